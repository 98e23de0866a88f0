import HyphaeWire
import NIOCore
import NIOWebSocket

/// Inflates the client's compressed messages (permessage-deflate, RSV1 on a message's
/// first frame) frame by frame, before the aggregator joins the fragments, so that the
/// protocol only ever sees plain text. It sits after `ClientFrameValidator`, which has
/// checked where RSV1 may stand.
///
/// The agreement asks the client for no context takeover, so each message inflates on a
/// fresh window: the inflate state exists only while a compressed message is arriving
/// and is released at its end, and a connection holds none between messages.
///
/// A message may inflate to `limit` bytes (the client message limit); one that would
/// grow past it is refused with 1009 as soon as it does, with no more than the limit
/// held, so a small deflate bomb cannot make the host allocate what it promises.
/// Data that does not inflate closes the connection with 1007.
final class CompressedMessageInflater: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    /// What a sender removed from the end of each compressed message (RFC 7692, 7.2.2).
    private static let messageTail = ByteBuffer(bytes: [0x00, 0x00, 0xFF, 0xFF])

    private let limit: Int
    private var inflater: RawInflater?
    private var inflatedSoFar = 0
    /// The message's opcode until its first inflated bytes go on: a fragment may inflate
    /// to nothing yet, and the aggregator takes no empty fragment but the last.
    private var openingOpcode: WebSocketOpcode?
    private var hasFailed = false

    init(limit: Int) {
        self.limit = limit
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        inflater = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !hasFailed else { return }
        let frame = unwrapInboundIn(data)
        let startsCompressedMessage = frame.rsv1 && (frame.opcode == .text || frame.opcode == .binary)
        let continuesCompressedMessage = frame.opcode == .continuation && inflater != nil
        guard startsCompressedMessage || continuesCompressedMessage else {
            context.fireChannelRead(data)
            return
        }
        if startsCompressedMessage {
            guard let fresh = RawInflater() else {
                fail(context, ClientFrameViolation(description: "cannot inflate a compressed message now (out of memory)", closeCode: .internalError))
                return
            }
            inflater = fresh
            inflatedSoFar = 0
            openingOpcode = frame.opcode
        }
        guard let inflater else { return }
        var inflated = context.channel.allocator.buffer(capacity: 0)
        do {
            let room = limit - inflatedSoFar
            try inflater.inflate(frame.unmaskedData, into: &inflated, limit: room)
            if frame.fin, !inflater.hasEnded {
                try inflater.inflate(Self.messageTail, into: &inflated, limit: room)
            }
        } catch {
            switch error {
            case .tooLarge:
                fail(context, ClientFrameViolation(description: "compressed message inflates to more than \(limit) bytes", closeCode: .messageTooBig))
            case .corrupt(let reason):
                fail(context, ClientFrameViolation(description: "compressed message does not inflate: \(reason)", closeCode: .invalidPayload))
            }
            return
        }
        inflatedSoFar += inflated.readableBytes
        if frame.fin { self.inflater = nil }
        guard frame.fin || inflated.readableBytes > 0 else { return }
        let opcode = openingOpcode ?? .continuation
        openingOpcode = nil
        context.fireChannelRead(wrapInboundOut(WebSocketFrame(fin: frame.fin, opcode: opcode, data: inflated)))
    }

    private func fail(_ context: ChannelHandlerContext, _ violation: ClientFrameViolation) {
        hasFailed = true
        inflater = nil
        context.fireErrorCaught(violation)
    }
}
