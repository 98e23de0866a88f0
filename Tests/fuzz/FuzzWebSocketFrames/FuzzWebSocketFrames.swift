import FuzzSupport
import HyphaeWire
import NIOCore
import NIOEmbedded
import NIOWebSocket

/// The frame size limit the host starts with (HostConfiguration.maxFrameSize).
private let maxFrameSize = 65_536

/// Part one: the input's bytes arrive, in chunks the input chooses, at the handlers a
/// host connection has after the upgrade (HyphaeServer.configureConnection:
/// NIOWebSocketServerUpgrader's decoder, encoder and protocol error handler, then
/// HyphaeWire's ClientFrameValidator, the one the host adds, and the aggregator with
/// the host's limits). Properties: nothing traps; every frame the validator passes is
/// masked, has no RSV bit, a defined opcode and, when a control frame, is final and at
/// most 125 bytes; nothing passes after the first violation; an aggregated message is
/// within the size limit; every error is one ProtocolSession.errorCaught answers with a
/// protocol close code, never its "internal error" branch.
///
/// Part two: HyphaeWire's WebSocketFrameHeader, the header writer the host and the bench
/// share, writes a header the input chooses; NIO's decoder reads back the same opcode,
/// length, mask and payload.
@main
enum WebSocketFramesFuzzer: FuzzTarget {
    static func fuzz(_ bytes: [UInt8]) { fuzzWebSocketFrames(bytes) }
}

private func fuzzWebSocketFrames(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes)
    checkHeaderRoundTrip(&input)
    checkHostPipeline(&input)
}

private func checkHostPipeline(_ input: inout FuzzInput) {
    let chunkSize = input.int(in: 1...64)
    let wire = input.rest()
    let channel = EmbeddedChannel()
    let probe = ValidatedFrameProbe()
    let session = SessionProbe()
    do {
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(WebSocketFrameEncoder())
        try operations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
        try operations.addHandler(WebSocketProtocolErrorHandler())
        try operations.addHandler(ClientFrameValidator())
        try operations.addHandler(probe)
        try operations.addHandler(NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 1024, maxAccumulatedFrameSize: maxFrameSize))
        try operations.addHandler(session)
    } catch {
        fuzzCheck(false, "cannot build the pipeline: \(error)")
    }
    var offset = 0
    while offset < wire.count, channel.isActive {
        let end = min(wire.count, offset + chunkSize)
        var buffer = channel.allocator.buffer(capacity: end - offset)
        buffer.writeBytes(wire[offset..<end])
        offset = end
        do {
            try channel.writeInbound(buffer)
        } catch {
            fuzzCheck(false, "an error got past the session: \(error)")
        }
    }
    _ = try? channel.finish()
}

/// Between the validator and the aggregator: what the validator lets through.
private final class ValidatedFrameProbe: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    private var violated = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        fuzzCheck(!violated, "a frame passed after a violation")
        fuzzCheck(frame.maskKey != nil, "an unmasked frame passed")
        fuzzCheck(!frame.rsv1 && !frame.rsv2 && !frame.rsv3, "a frame with an RSV bit passed")
        fuzzCheck(frame.length <= maxFrameSize, "a frame of \(frame.length) bytes passed")
        switch frame.opcode {
        case .connectionClose, .ping, .pong:
            fuzzCheck(frame.fin && frame.length <= WebSocketFrameHeader.maximumControlPayload, "a fragmented or long control frame passed")
        case .continuation, .text, .binary:
            break
        default:
            fuzzCheck(false, "reserved opcode \(frame.opcode) passed")
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is ClientFrameViolation { violated = true }
        context.fireErrorCaught(error)
    }
}

/// Where ProtocolSession sits: checks what it would receive.
private final class SessionProbe: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        fuzzCheck(frame.fin, "the aggregator passed a fragment")
        fuzzCheck(frame.length <= maxFrameSize, "a message of \(frame.length) bytes reached the session")
        _ = frame.unmaskedData
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ProtocolSession.errorCaught: these close with 1002 or 1009; anything else would be an internal error.
        let answered = error is ClientFrameViolation || error is NIOWebSocketFrameAggregator.Error || error is NIOWebSocketError
        fuzzCheck(answered, "an error the session does not expect: \(error)")
    }
}

private func checkHeaderRoundTrip(_ input: inout FuzzInput) {
    let opcodes: [WebSocketFrameHeader.Opcode] = [.continuation, .text, .binary, .close, .ping, .pong]
    let opcode = opcodes[input.int(in: 0...(opcodes.count - 1))]
    let lengths = [input.int(in: 0...127), 125, 126, 127, 65_535, 65_536, 65_537 + input.int(in: 0...2000), input.int(in: 0...1000)]
    var length = lengths[input.int(in: 0...(lengths.count - 1))]
    if opcode == .close || opcode == .ping || opcode == .pong { length = min(length, WebSocketFrameHeader.maximumControlPayload) }
    let masked = input.bool()
    let key = (input.byte(), input.byte(), input.byte(), input.byte())
    let filler = input.byte()
    let payload = [UInt8](repeating: filler, count: length)

    var buffer = ByteBuffer()
    WebSocketFrameHeader.write(opcode: opcode, payloadLength: length, maskKey: masked ? key : nil, into: &buffer)
    let headerLength = buffer.readableBytes
    fuzzCheck(headerLength <= (masked ? WebSocketFrameHeader.maximumClientLength : WebSocketFrameHeader.maximumServerLength), "a header of \(headerLength) bytes")
    let maskingKey = WebSocketMaskingKey([key.0, key.1, key.2, key.3])!
    var body = ByteBuffer(bytes: payload)
    if masked { body.webSocketMask(maskingKey) }
    buffer.writeBuffer(&body)

    let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
    defer { _ = try? channel.finish() }
    do {
        try channel.writeInbound(buffer)
        guard let frame = try channel.readInbound(as: WebSocketFrame.self) else {
            return fuzzCheck(false, "no frame decoded from a written header of length \(length)")
        }
        fuzzCheck(frame.fin && !frame.rsv1 && !frame.rsv2 && !frame.rsv3, "flags changed")
        fuzzCheck(frame.opcode == WebSocketOpcode(encodedWebSocketOpcode: opcode.rawValue), "opcode \(opcode) read back as \(frame.opcode)")
        fuzzCheck(frame.length == length, "length \(length) read back as \(frame.length)")
        fuzzCheck(frame.maskKey == (masked ? maskingKey : nil), "mask changed")
        fuzzCheck(Array(frame.unmaskedData.readableBytesView) == payload, "payload changed")
        let second = try channel.readInbound(as: WebSocketFrame.self)
        fuzzCheck(second == nil, "a second frame from one header")
    } catch {
        fuzzCheck(false, "NIO rejects a header WebSocketFrameHeader wrote (\(opcode), \(length) bytes): \(error)")
    }
}
