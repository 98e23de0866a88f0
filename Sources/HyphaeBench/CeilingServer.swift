import Crypto
import Foundation
import HyphaeCore
import HyphaeProtocol
import HyphaeSockets
import NIOCore
import NIOPosix
import Synchronization

/// The machine's raw fan-out ceiling: a minimal WebSocket server that answers the
/// protocol's `init`, `auth` and `subscribe` with fixed replies, then writes frames
/// shaped like the host's ticker frames to every subscribed socket, at a rate or as fast
/// as the loops go. It does the least a fan-out can per frame: each tick encodes
/// `framesPerWrite` consecutive frames once, back to back in one shared buffer, and each
/// socket takes that buffer in one write and one flush, with no protocol work, queue or
/// policy. So the host's throughput against it is a share of what this machine allows.
/// A socket that is not writable skips the tick (its frames are dropped), so memory
/// stays bounded.
public final class CeilingServer: Sendable {
    public struct Settings: Sendable {
        public var host = "127.0.0.1"
        public var port = 0
        /// Frames per second; 0 writes as fast as the loops go.
        public var rate = 0.0
        public var payloadBytes = 256
        /// Accept connections on a thread of its own (`SocketAcceptor`), so that each
        /// socket's descriptor is known, and write frames with `send(2)` on it from the
        /// loop, past NIO's channel write path; NIO takes only what the kernel did not.
        /// Shows what that path costs per frame (Docs/PERFORMANCE.md, against nchan).
        public var directWrites = false
        /// Frames encoded per tick and written to each socket together; nil: 16 as fast as
        /// possible (how many pile up for a fan-out that keeps its loops busy), 1 at a rate.
        public var framesPerWrite: Int?
        public var threads = System.coreCount
        public var streamID = "bench"

        /// The most frames one write may carry.
        public static let framesPerWriteRange = 1...256

        public init(
            host: String = "127.0.0.1", port: Int = 0, rate: Double = 0, payloadBytes: Int = 256,
            framesPerWrite: Int? = nil, directWrites: Bool = false, threads: Int? = nil
        ) {
            self.host = host
            self.port = port
            self.rate = rate
            self.payloadBytes = payloadBytes
            self.framesPerWrite = framesPerWrite
            self.directWrites = directWrites
            self.threads = threads ?? System.coreCount
        }

        public var effectiveFramesPerWrite: Int {
            min(max(framesPerWrite ?? (rate > 0 ? 1 : 16), Self.framesPerWriteRange.lowerBound), Self.framesPerWriteRange.upperBound)
        }
    }

    public struct Totals: Sendable {
        public var subscribers = 0
        public var framesWritten = 0
        public var framesSkipped = 0
        /// Socket writes: each carries `framesPerWrite` frames.
        public var writes = 0
        /// Of `writes`, those the kernel took whole from a direct `send`.
        public var directWrites = 0
    }

    private let settings: Settings
    private let group: MultiThreadedEventLoopGroup
    private let broadcasters: [NIOLoopBoundBox<CeilingBroadcaster>]
    private let channel = Mutex<Channel?>(nil)
    private let acceptor = Mutex<SocketAcceptor?>(nil)
    private let drivers = Mutex<[Task<Void, Never>]>([])

    public init(settings: Settings) {
        self.settings = settings
        group = MultiThreadedEventLoopGroup(numberOfThreads: settings.threads)
        broadcasters = group.makeIterator().map { loop in
            NIOLoopBoundBox.makeBoxSendingValue(CeilingBroadcaster(eventLoop: loop, settings: settings), eventLoop: loop)
        }
    }

    /// Binds and starts ticking; returns the port.
    public func start() async throws -> Int {
        let port = settings.directWrites ? try acceptDirectly() : try await bind()
        startTicking()
        return port
    }

    private func bind() async throws -> Int {
        let broadcasters = self.broadcasters
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let broadcaster = broadcasters.first(where: { $0.eventLoop === channel.eventLoop }) else {
                        throw BenchError("no broadcaster for the channel's event loop")
                    }
                    try channel.pipeline.syncOperations.addHandler(CeilingConnection(broadcaster: broadcaster.value))
                }
            }
        let bound = try await bootstrap.bind(host: settings.host, port: settings.port).get()
        channel.withLock { $0 = bound }
        return bound.localAddress?.port ?? settings.port
    }

    /// Accepts on a thread of its own and hands each socket to NIO by descriptor, which
    /// its connection keeps for direct writes.
    private func acceptDirectly() throws -> Int {
        let listener: SocketAcceptor
        do {
            listener = try SocketAcceptor(host: settings.host, port: settings.port)
        } catch {
            throw BenchError(error.description)
        }
        acceptor.withLock { $0 = listener }
        let broadcasters = self.broadcasters
        let group = self.group
        // `stop` stops the acceptor before it shuts the loops down, so a hand-off never
        // meets a closed loop. One that fails later closes the socket with its channel.
        listener.start(name: "hyphae-bench-acceptor") { descriptor in
            _ = ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        guard let broadcaster = broadcasters.first(where: { $0.eventLoop === channel.eventLoop }) else {
                            throw BenchError("no broadcaster for the channel's event loop")
                        }
                        try channel.pipeline.syncOperations.addHandler(CeilingConnection(broadcaster: broadcaster.value, directDescriptor: descriptor))
                    }
                }
                .withConnectedSocket(descriptor)
        }
        return listener.port
    }

    private func startTicking() {
        if settings.rate > 0 {
            for broadcaster in broadcasters {
                broadcaster.eventLoop.execute { broadcaster.value.startTicking() }
            }
        } else {
            // As fast as possible: each loop gets its next tick once it has finished the last one.
            // Ticks come from outside the loop (as the host's producer's frames do), so that the
            // loop serves its sockets between two ticks.
            let started = broadcasters.map { broadcaster in
                Task {
                    while !Task.isCancelled {
                        let ticked = (try? await broadcaster.eventLoop.submit { broadcaster.value.tick() }.get()) ?? false
                        if !ticked { try? await Task.sleep(for: .milliseconds(10)) }
                    }
                }
            }
            drivers.withLock { $0 = started }
        }
    }

    public func totals() async -> Totals {
        var totals = Totals()
        for broadcaster in broadcasters {
            guard let part = try? await broadcaster.eventLoop.submit({ broadcaster.value.totals }).get() else { continue }
            totals.subscribers += part.subscribers
            totals.framesWritten += part.framesWritten
            totals.framesSkipped += part.framesSkipped
            totals.writes += part.writes
            totals.directWrites += part.directWrites
        }
        return totals
    }

    public func stop() async {
        for driver in drivers.withLock({ $0 }) { driver.cancel() }
        let listener = channel.withLock { $0 }
        try? await listener?.close().get()
        acceptor.withLock { $0 }?.stop()
        for broadcaster in broadcasters {
            try? await broadcaster.eventLoop.submit { broadcaster.value.stop() }.get()
        }
        try? await group.shutdownGracefully()
    }
}

/// One loop's subscribers and its tick. Confined to its loop.
final class CeilingBroadcaster {
    private let eventLoop: EventLoop
    private let settings: CeilingServer.Settings
    private var subscribers: [CeilingConnection] = []
    private var sequence = 0
    private var writer = JSONWriter(capacity: 1024)
    private var padding: [UInt8]
    private var isRunning = false
    private var scheduled: Scheduled<Void>?
    private(set) var totals = CeilingServer.Totals()

    init(eventLoop: EventLoop, settings: CeilingServer.Settings) {
        self.eventLoop = eventLoop
        self.settings = settings
        padding = Array(repeating: UInt8(ascii: "x"), count: settings.payloadBytes)
    }

    func add(_ connection: CeilingConnection) {
        subscribers.append(connection)
        totals.subscribers = subscribers.count
    }

    func remove(_ connection: CeilingConnection) {
        subscribers.removeAll { $0 === connection }
        totals.subscribers = subscribers.count
    }

    /// Ticks at the configured rate, on the loop's own timer.
    func startTicking() {
        isRunning = true
        scheduleTick(at: .now() + interval)
    }

    /// A tick carries `framesPerWrite` frames, so ticks come that many times less often than frames.
    private var interval: TimeAmount {
        .nanoseconds(Int64((1e9 * Double(settings.effectiveFramesPerWrite) / max(settings.rate, 0.001)).rounded()))
    }

    /// Ticks on a fixed schedule (deadline after deadline, so that it does not drift).
    private func scheduleTick(at deadline: NIODeadline) {
        scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            guard isRunning else { return }
            tick()
            let next = deadline + interval
            scheduleTick(at: max(next, .now()))
        }
    }

    func stop() {
        isRunning = false
        scheduled?.cancel()
        for subscriber in subscribers { subscriber.close() }
        subscribers.removeAll()
    }

    /// Encodes this tick's frames once, into one buffer, and writes it to every writable
    /// subscriber with one flush each. Returns false when there was no one to write to.
    @discardableResult
    func tick() -> Bool {
        guard !subscribers.isEmpty else { return false }
        let framesPerWrite = settings.effectiveFramesPerWrite
        var frames = ByteBufferAllocator().buffer(capacity: framesPerWrite * (settings.payloadBytes + 200))
        for _ in 0..<framesPerWrite {
            var frame = encodeFrame()
            frames.writeBuffer(&frame)
        }
        // A write can close a socket, which leaves `subscribers` at once.
        let audience = subscribers
        var written = 0
        for subscriber in audience {
            switch subscriber.writeAndFlush(frames) {
            case .skipped: continue
            case .direct: totals.directWrites += 1
            case .throughNIO: break
            }
            written += 1
        }
        totals.writes += written
        totals.framesWritten += written * framesPerWrite
        totals.framesSkipped += (audience.count - written) * framesPerWrite
        return true
    }

    /// `{"type":"tick","stream_id":ID,"timestamp":T,"payload":{"stream_id":ID,"sequence":N,"timestamp":T,"count":N+1,"data":"x…"}}`
    private func encodeFrame() -> ByteBuffer {
        let timestamp = WallClock.nowMilliseconds()
        writer.reset()
        writer.writeRaw(#"{"type":"tick","stream_id":"#)
        writer.write(settings.streamID)
        writer.writeRaw(#","timestamp":"#)
        writer.write(timestamp)
        writer.writeRaw(#","payload":{"stream_id":"#)
        writer.write(settings.streamID)
        writer.writeRaw(#","sequence":"#)
        writer.write(sequence)
        writer.writeRaw(#","timestamp":"#)
        writer.write(timestamp)
        writer.writeRaw(#","count":"#)
        writer.write(sequence + 1)
        if !padding.isEmpty {
            writer.writeRaw(#","data":""#)
            writer.writeRaw(padding)
            writer.writeRaw("\"")
        }
        writer.writeRaw("}}")
        sequence += 1
        return ServerFrames.text(writer.bytes, allocator: ByteBufferAllocator())
    }
}

/// One ceiling connection: the upgrade, fixed replies, and the broadcaster's frames.
final class CeilingConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let broadcaster: CeilingBroadcaster
    private var context: ChannelHandlerContext?
    /// Writes to the socket itself, for direct writes; nil: every write goes through NIO.
    private let directWriter: DirectSocketWriter?
    /// A write went through NIO since NIO last held nothing: a direct write waits until
    /// NIO's buffered bytes are back to zero, or it would overtake them.
    private var nioMayHoldWrites = true
    private var partial: ByteBuffer?
    private var isUpgraded = false
    private var isSubscribed = false

    private static let subscribeType: [UInt8] = Array(#""type":"subscribe""#.utf8)
    private static let initType: [UInt8] = Array(#""type":"init""#.utf8)
    private static let authType: [UInt8] = Array(#""type":"auth""#.utf8)
    private static let closeType: [UInt8] = Array(#""type":"close""#.utf8)
    private static let keyHeader: [UInt8] = Array("sec-websocket-key:".utf8)

    init(broadcaster: CeilingBroadcaster, directDescriptor: CInt? = nil) {
        self.broadcaster = broadcaster
        directWriter = directDescriptor.map(DirectSocketWriter.init(descriptor:))
    }

    /// How a tick's write went.
    enum WriteOutcome {
        case skipped
        case direct
        case throughNIO
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isSubscribed { broadcaster.remove(self) }
        isSubscribed = false
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Writes and flushes the tick's frames in one pass unless the socket is full.
    func writeAndFlush(_ frames: ByteBuffer) -> WriteOutcome {
        guard let context else { return .skipped }
        guard let directWriter else {
            guard context.channel.isWritable else { return .skipped }
            context.writeAndFlush(wrapOutboundOut(frames), promise: nil)
            return .throughNIO
        }
        if nioMayHoldWrites {
            nioMayHoldWrites = DirectSocketWriter.nioHoldsBytes(of: context.channel)
            if nioMayHoldWrites { return .skipped }
        }
        let sent = directWriter.send(frames)
        if sent == frames.readableBytes { return .direct }
        // The kernel took part or none (a full socket, or an error NIO meets again and
        // reports): the rest must leave before anything else, so NIO takes it and
        // direct writes wait until it is out.
        var rest = frames
        rest.moveReaderIndex(forwardBy: sent)
        writeThroughNIO(rest, context: context)
        return .throughNIO
    }

    private func writeThroughNIO(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        nioMayHoldWrites = true
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func close() {
        context?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        var buffer: ByteBuffer
        if var pending = partial {
            partial = nil
            pending.writeBuffer(&incoming)
            buffer = pending
        } else {
            buffer = incoming
        }
        if !isUpgraded {
            guard upgrade(&buffer, context: context) else { return }
        }
        var messages: [[UInt8]] = []
        var closes = false
        let consumed = buffer.withUnsafeReadableBytes { bytes -> Int in
            var offset = 0
            while let frame = WebSocketWire.frameBounds(in: bytes, from: offset) {
                var payload = Array(bytes[frame.payloadStart..<frame.end])
                if let mask = frame.maskKey {
                    let key = [mask.0, mask.1, mask.2, mask.3]
                    for index in payload.indices { payload[index] ^= key[index & 3] }
                }
                switch frame.opcode {
                case WebSocketWire.Opcode.text.rawValue: messages.append(payload)
                case WebSocketWire.Opcode.close.rawValue: closes = true
                default: break
                }
                offset = frame.end
            }
            return offset
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        if buffer.readableBytes > 0 { partial = buffer }
        for message in messages { answer(message, context: context) }
        if closes { context.close(promise: nil) }
    }

    private func upgrade(_ buffer: inout ByteBuffer, context: ChannelHandlerContext) -> Bool {
        let head = buffer.withUnsafeReadableBytes { bytes -> (end: Int, key: String?)? in
            guard let end = WebSocketWire.headEnd(in: bytes) else { return nil }
            let lowered = Array(bytes[..<end]).map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
            let original = Array(bytes[..<end])
            var key: String?
            if let position = lowered.withUnsafeBytes({ MessageScanner.find(Self.keyHeader, in: $0, from: 0) }) {
                var start = position + Self.keyHeader.count
                while start < end, original[start] == UInt8(ascii: " ") { start += 1 }
                var stop = start
                while stop < end, original[stop] != UInt8(ascii: "\r") { stop += 1 }
                key = String(decoding: original[start..<stop], as: UTF8.self)
            }
            return (end, key)
        }
        guard let head else {
            partial = buffer
            return false
        }
        buffer.moveReaderIndex(forwardBy: head.end)
        guard let key = head.key else {
            writeThroughNIO(ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), context: context)
            context.close(promise: nil)
            return false
        }
        let digest = Insecure.SHA1.hash(data: Array((key + WebSocketWire.acceptGUID).utf8))
        let accept = Data(digest).base64EncodedString()
        let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"
        writeThroughNIO(ByteBuffer(string: response), context: context)
        isUpgraded = true
        return true
    }

    private func answer(_ message: [UInt8], context: ChannelHandlerContext) {
        message.withUnsafeBytes { bytes in
            if MessageScanner.contains(Self.subscribeType, in: bytes) {
                let streamID = MessageScanner.streamID(in: bytes).map { String(decoding: $0, as: UTF8.self) } ?? "bench"
                reply(.subscribeSuccess(streamID: streamID, pipeline: "ceiling", params: [:], pipelineVersion: "ceiling"), context: context)
                if !isSubscribed {
                    isSubscribed = true
                    broadcaster.add(self)
                }
            } else if MessageScanner.contains(Self.initType, in: bytes) {
                reply(.initReply(server: "hyphae-ceiling", authRequired: false, heartbeatIntervalMilliseconds: 30_000, heartbeatTimeoutMilliseconds: 60_000), context: context)
            } else if MessageScanner.contains(Self.authType, in: bytes) {
                reply(.authSuccess(keyID: "ceiling"), context: context)
            } else if MessageScanner.contains(Self.closeType, in: bytes) {
                context.close(promise: nil)
            }
        }
    }

    private func reply(_ message: ServerMessage, context: ChannelHandlerContext) {
        writeThroughNIO(ServerFrames.message(message, allocator: context.channel.allocator), context: context)
    }
}
