import HyphaeCore
import NIOCore

/// What one client sends, prepared before it connects.
struct ClientPlan: Sendable {
    var index: Int
    var upgradeRequest: [UInt8]
    /// False for a raw server (`RawTarget`): nothing is sent once upgraded, and every
    /// text frame is data.
    var speaksProtocol: Bool
    /// `init`, then `auth` when a key is given (built when sent, for a fresh timestamp).
    var initMessage: [UInt8]
    var authMessage: (@Sendable () -> [UInt8])?
    var subscribeMessage: [UInt8]
    /// Stops reading once subscribed (a slow consumer).
    var stopsReading: Bool
    /// Seconds after subscribing when a slow consumer reads again; nil: never.
    var resumesReadingAfter: Double?
}

/// One bench client: a WebSocket connection that speaks the protocol and counts
/// what arrives, scanning bytes straight from NIO's read buffers. Confined to its
/// channel's event loop, like the tally it adds to.
final class BenchConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case upgrading
        case subscribing
        case streaming
        case ended
        case failed
    }

    private static let pongMessage: [UInt8] = Array(#"{"type":"pong"}"#.utf8)
    private static let closeMessage: [UInt8] = Array(#"{"type":"close"}"#.utf8)
    /// Normal closure (1000), the payload of the close frame a raw client ends with.
    private static let normalClosure: [UInt8] = [0x03, 0xE8]
    /// A frame (or an upgrade response) longer than this is hostile or broken: the
    /// client counts an error and closes rather than buffer it.
    static let maximumBufferedBytes = 16 << 20

    private let plan: ClientPlan
    private let tally: LoopTally
    private var phase = Phase.upgrading
    private var context: ChannelHandlerContext?
    /// Bytes of a frame (or of the upgrade response) that has not fully arrived.
    private var partial: ByteBuffer?
    private var lastSequence: Int?
    private let createdAt = NIODeadline.now()
    private var upgradedAt = NIODeadline.now()
    private var isClosingByRequest = false
    private(set) var isActive = false
    /// Set when the server's close frame or our own close started the end.
    private var sawClose = false

    init(plan: ClientPlan, tally: LoopTally) {
        self.plan = plan
        self.tally = tally
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        tally.connections.append(self)
    }

    func channelActive(context: ChannelHandlerContext) {
        isActive = true
        var request = context.channel.allocator.buffer(capacity: plan.upgradeRequest.count)
        request.writeBytes(plan.upgradeRequest)
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        if !isClosingByRequest {
            tally.whole.disconnects += 1
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if var pending = partial {
            partial = nil
            pending.writeBuffer(&incoming)
            consume(&pending, context: context)
        } else {
            consume(&incoming, context: context)
        }
    }

    /// Handles every complete frame in `buffer` and keeps the rest for the next read.
    private func consume(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) {
        if phase == .upgrading {
            guard readUpgradeResponse(&buffer, context: context) else { return }
        }
        let consumed = buffer.withUnsafeReadableBytes { bytes -> Int in
            var offset = 0
            while let frame = WebSocketWire.frameBounds(in: bytes, from: offset) {
                handleFrame(frame, in: bytes, context: context)
                offset = frame.end
            }
            return offset
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        if buffer.readableBytes > Self.maximumBufferedBytes {
            tally.whole.errorMessages += 1
            phase = .failed
            context.close(promise: nil)
            return
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            partial = buffer
        }
    }

    /// True once the upgrade succeeded and `buffer` holds only frames.
    private func readUpgradeResponse(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) -> Bool {
        let head = buffer.withUnsafeReadableBytes { bytes -> (end: Int, switched: Bool)? in
            guard let end = WebSocketWire.headEnd(in: bytes) else { return nil }
            let switched = MessageScanner.find(Array(" 101 ".utf8), in: UnsafeRawBufferPointer(rebasing: bytes[..<min(end, 16)]), from: 0) != nil
            return (end, switched)
        }
        guard let head else {
            if buffer.readableBytes > Self.maximumBufferedBytes {
                tally.whole.errorMessages += 1
                phase = .failed
                context.close(promise: nil)
                return false
            }
            partial = buffer
            return false
        }
        buffer.moveReaderIndex(forwardBy: head.end)
        guard head.switched else {
            phase = .failed
            tally.whole.refusals += 1
            isClosingByRequest = true
            context.close(promise: nil)
            return false
        }
        upgradedAt = .now()
        tally.whole.connected += 1
        tally.whole.connectMicroseconds.record(Int((upgradedAt - createdAt).nanoseconds / 1000))
        guard plan.speaksProtocol else {
            // A raw server streams as soon as the socket is upgraded.
            phase = .streaming
            tally.whole.subscribed += 1
            return true
        }
        phase = .subscribing
        send(plan.initMessage, context: context, flush: false)
        if let authMessage = plan.authMessage { send(authMessage(), context: context, flush: false) }
        send(plan.subscribeMessage, context: context, flush: true)
        return true
    }

    @inline(__always)
    private func handleFrame(_ frame: WebSocketWire.FrameBounds, in bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        let payload = UnsafeRawBufferPointer(rebasing: bytes[frame.payloadStart..<frame.end])
        switch frame.opcode {
        case WebSocketWire.Opcode.text.rawValue:
            guard frame.isFinal else {
                tally.whole.errorMessages += 1
                return
            }
            if plan.speaksProtocol {
                handleMessage(payload, frameLength: frame.length, context: context)
            } else {
                handleRawMessage(payload, frameLength: frame.length)
            }
        case WebSocketWire.Opcode.binary.rawValue where !plan.speaksProtocol:
            // A raw server's data is JSON text; anything else is malformed.
            tally.whole.errorMessages += 1
        case WebSocketWire.Opcode.ping.rawValue:
            let pong = WebSocketWire.maskedFrame(opcode: .pong, payload: payload, allocator: context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case WebSocketWire.Opcode.close.rawValue:
            let code = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 1005
            tally.whole.closeCodes[code, default: 0] += 1
            if !sawClose {
                sawClose = true
                var echo: [UInt8] = []
                if payload.count >= 2 { echo = [payload[0], payload[1]] }
                let reply = WebSocketWire.maskedFrame(opcode: .close, payload: echo, allocator: context.channel.allocator)
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            }
            context.close(promise: nil)
        default:
            break
        }
    }

    @inline(__always)
    private func handleMessage(_ message: UnsafeRawBufferPointer, frameLength: Int, context: ChannelHandlerContext) {
        switch MessageScanner.kind(of: message) {
        case .data:
            guard phase == .streaming else { return }
            recordData(sequence: MessageScanner.sequence(in: message), timestamp: MessageScanner.timestamp(in: message), frameLength: frameLength)
        case .heartbeat:
            tally.whole.heartbeats += 1
            send(Self.pongMessage, context: context, flush: true)
        case .subscribeSuccess:
            phase = .streaming
            tally.whole.subscribed += 1
            tally.whole.subscribeMicroseconds.record(Int((NIODeadline.now() - upgradedAt).nanoseconds / 1000))
            if plan.stopsReading { stopReading(context: context) }
        case .authFailed, .subscribeFailed:
            tally.whole.refusals += 1
            phase = .failed
        case .error:
            tally.whole.errorMessages += 1
        case .streamEnd:
            tally.whole.streamEnds += 1
            phase = .ended
        case .initReply, .authSuccess, .streamReloaded, .unsubscribe:
            break
        }
    }

    /// A raw server's text frame: a JSON object with `sequence` and `timestamp`, or an
    /// error counted (and the frame otherwise ignored).
    @inline(__always)
    private func handleRawMessage(_ message: UnsafeRawBufferPointer, frameLength: Int) {
        guard phase == .streaming, MessageScanner.isObject(message),
            let sequence = MessageScanner.sequence(in: message), let timestamp = MessageScanner.timestamp(in: message),
            timestamp.isFinite
        else {
            tally.whole.errorMessages += 1
            return
        }
        recordData(sequence: sequence, timestamp: timestamp, frameLength: frameLength)
    }

    @inline(__always)
    private func recordData(sequence: Int?, timestamp: Double?, frameLength: Int) {
        var gap = 0
        if let sequence {
            if let last = lastSequence {
                if sequence > last + 1 {
                    gap = sequence - last - 1
                } else if sequence <= last {
                    tally.whole.outOfOrder += 1
                }
            }
            lastSequence = sequence
        }
        var latency: Int?
        if let timestamp {
            // A clock far off, or a made-up timestamp, must not trap the conversion.
            let microseconds = (WallClock.nowMilliseconds() - timestamp) * 1000
            if abs(microseconds) < 1e15 { latency = Int(microseconds) }
        }
        tally.recordFrame(latencyMicroseconds: latency, gap: gap, byteCount: frameLength, isSlowClient: plan.stopsReading)
    }

    private func stopReading(context: ChannelHandlerContext) {
        context.channel.setOption(.autoRead, value: false).whenFailure { _ in }
        guard let delay = plan.resumesReadingAfter else { return }
        let channel = context.channel
        context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(Int64(delay * 1e9))) {
            channel.setOption(.autoRead, value: true).whenSuccess { channel.read() }
        }
    }

    private func send(_ message: [UInt8], context: ChannelHandlerContext, flush: Bool) {
        let frame = WebSocketWire.maskedFrame(opcode: .text, payload: message, allocator: context.channel.allocator)
        if flush {
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        } else {
            context.write(wrapOutboundOut(frame), promise: nil)
        }
    }

    /// Sends the protocol's `close` and closes the socket (the end of a run).
    func close() {
        guard let context, isActive, !isClosingByRequest else { return }
        isClosingByRequest = true
        if !plan.speaksProtocol {
            let frame = WebSocketWire.maskedFrame(opcode: .close, payload: Self.normalClosure, allocator: context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        } else if phase == .streaming || phase == .subscribing {
            send(Self.closeMessage, context: context, flush: true)
        }
        context.close(promise: nil)
    }

    var hasEnded: Bool { phase == .ended || phase == .failed || !isActive }
}
