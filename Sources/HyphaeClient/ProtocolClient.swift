import Foundation
import HyphaeCore
import HyphaeProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

/// What a client sees arrive.
public enum ClientEvent: Sendable, Equatable {
    /// A text message the server sent, parsed; `nil` JSON when it was not JSON.
    case message(JSONValue?, text: String)
    /// The server's close frame, with its code.
    case closeFrame(code: UInt16, reason: String)
    /// The TCP connection is gone.
    case disconnected
}

public struct ClientError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A WebSocket client that speaks the Hyphae protocol: used by `hyphae subscribe`
/// and by the tests. Messages are buffered as they arrive and read with `next()`.
public final class ProtocolClient: Sendable {
    private let channel: Channel
    private let events: EventBuffer

    private init(channel: Channel, events: EventBuffer) {
        self.channel = channel
        self.events = events
    }

    /// Connects to `ws://host:port/path`, or `wss://` with `tls`, and completes the
    /// WebSocket upgrade. Throws when the TLS handshake fails (an untrusted certificate,
    /// one for another name) or the server refuses the upgrade (an unknown path, a
    /// shutting-down host).
    public static func connect(
        host: String, port: Int, path: String, tls: ClientTLS? = nil,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maxFrameSize: Int = 64 << 20
    ) async throws -> ProtocolClient {
        let events = EventBuffer()
        let upgraded = group.next().makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(
                    maxFrameSize: maxFrameSize,
                    automaticErrorHandling: false,
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            let operations = channel.pipeline.syncOperations
                            // Past the upgrade, the bytes are WebSocket frames, not HTTP.
                            operations.removeHandler(name: UpgradeRequestWriter.name, promise: nil)
                            try operations.addHandler(NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 1 << 16, maxAccumulatedFrameSize: maxFrameSize))
                            try operations.addHandler(ClientMessageHandler(events: events))
                            upgraded.succeed()
                        }
                    }
                )
                return channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(tls.makeHandler(host: host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in })
                    )
                    try channel.pipeline.syncOperations.addHandler(
                        UpgradeRequestWriter(host: host, port: port, path: path, failure: upgraded), name: UpgradeRequestWriter.name)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            upgraded.fail(error)
            throw error
        }
        channel.closeFuture.whenComplete { _ in
            upgraded.fail(ClientError("the server closed the connection before the WebSocket upgrade to \(path)"))
        }
        try await upgraded.futureResult.get()
        return ProtocolClient(channel: channel, events: events)
    }

    /// Sends a protocol message.
    public func send(_ message: JSONValue) async throws {
        try await sendText(message.jsonText)
    }

    /// Sends `{"type": type, "payload": payload}`.
    public func send(type: String, payload: JSONObject? = nil) async throws {
        try await send(ClientMessage(MessageType(type), payload: payload))
    }

    /// Sends a protocol message.
    public func send(_ message: ClientMessage) async throws {
        try await sendText(message.jsonText)
    }

    public func sendText(_ text: String) async throws {
        try await sendFrame(opcode: .text, bytes: Array(text.utf8))
    }

    public func sendFrame(opcode: WebSocketOpcode, bytes: [UInt8]) async throws {
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: ByteBuffer(bytes: bytes))
        try await channel.writeAndFlush(frame).get()
    }

    /// The next event, or a timeout error after `timeout`.
    public func next(timeout: Duration = .seconds(10)) async throws -> ClientEvent {
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        guard let event = await events.next(timeout: .nanoseconds(nanoseconds), on: channel.eventLoop) else {
            throw ClientError("no message within \(timeout)")
        }
        return event
    }

    /// The next message's JSON object, skipping heartbeats unless asked for; throws on close.
    public func nextMessage(timeout: Duration = .seconds(10), skippingHeartbeats: Bool = true) async throws -> JSONObject {
        while true {
            switch try await next(timeout: timeout) {
            case .message(let value, let text):
                guard let object = value?.objectValue else { throw ClientError("the server sent a message that is not a JSON object: \(text)") }
                if skippingHeartbeats, object["type"]?.stringValue == MessageType.heartbeat.rawValue { continue }
                return object
            case .closeFrame(let code, let reason):
                throw ClientError("the server closed the connection with \(code) (\(reason))")
            case .disconnected:
                throw ClientError("the connection dropped")
            }
        }
    }

    /// Reads until a message of `type` arrives; the ones before it are returned too.
    public func collect(until type: String, timeout: Duration = .seconds(10)) async throws -> [JSONObject] {
        var messages: [JSONObject] = []
        while true {
            let message = try await nextMessage(timeout: timeout)
            messages.append(message)
            if message["type"]?.stringValue == type { return messages }
        }
    }

    /// Stops reading from the socket (a slow consumer), or starts again.
    public func setReading(_ reading: Bool) async throws {
        try await channel.setOption(.autoRead, value: reading).get()
        if reading { channel.read() }
    }

    /// Closes the TCP connection without a close handshake.
    public func disconnect() async {
        try? await channel.close().get()
    }

    public var isActive: Bool { channel.isActive }

    /// The payload of an `auth` message at `timestamp` (ms); signed when asked.
    public static func authPayload(apiKey: String, timestamp: Double = WallClock.nowMilliseconds(), signed: Bool) -> JSONObject {
        AuthSignature.authPayload(apiKey: apiKey, timestamp: Int64(exactly: timestamp.rounded(.towardZero)) ?? 0, signed: signed)
    }

    /// The `auth` signature of a timestamp (PROTOCOL.md, auth).
    public static func signature(apiKey: String, timestamp: Int) -> String {
        AuthSignature.hex(apiKey: apiKey, timestamp: Int64(timestamp))
    }
}

/// The events received and not yet read. A read that times out leaves the buffer
/// as it was, so the next read sees what arrives later.
private final class EventBuffer: Sendable {
    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<ClientEvent?, Never>
    }

    private struct State {
        var events = CircularBuffer<ClientEvent>()
        var waiter: Waiter?
        var nextWaiterID = 0
        var isFinished = false
    }

    private let state = NIOLockedValueBox(State())

    func push(_ event: ClientEvent) {
        let waiter = state.withLockedValue { state -> Waiter? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.events.append(event)
            return nil
        }
        waiter?.continuation.resume(returning: event)
    }

    func finish() {
        let waiter = state.withLockedValue { state -> Waiter? in
            state.isFinished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.continuation.resume(returning: .disconnected)
    }

    /// The next event, or nil after `timeout`.
    func next(timeout: TimeAmount, on eventLoop: EventLoop) async -> ClientEvent? {
        await withCheckedContinuation { continuation in
            let waiting = state.withLockedValue { state -> (ClientEvent?, Int?) in
                if let event = state.events.popFirst() { return (event, nil) }
                if state.isFinished { return (.disconnected, nil) }
                let id = state.nextWaiterID
                state.nextWaiterID += 1
                state.waiter = Waiter(id: id, continuation: continuation)
                return (nil, id)
            }
            guard let id = waiting.1 else {
                continuation.resume(returning: waiting.0)
                return
            }
            eventLoop.scheduleTask(in: timeout) { [self] in
                let expired = state.withLockedValue { state -> Waiter? in
                    guard let waiter = state.waiter, waiter.id == id else { return nil }
                    state.waiter = nil
                    return waiter
                }
                expired?.continuation.resume(returning: nil)
            }
        }
    }
}

/// Writes the HTTP request that asks for the upgrade, once connected.
private final class UpgradeRequestWriter: ChannelInboundHandler, RemovableChannelHandler {
    static let name = "hyphae.upgrade-request"

    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let port: Int
    private let path: String
    private let failure: EventLoopPromise<Void>

    init(host: String, port: Int, path: String, failure: EventLoopPromise<Void>) {
        self.host = host
        self.port = port
        self.path = path
        self.failure = failure
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        // An IPv6 literal is bracketed in a Host header (RFC 3986), so that its colons are not taken for the port's.
        let name = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        headers.add(name: "Host", value: "\(name):\(port)")
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A response that reaches this handler is not an upgrade.
        if case .head(let response) = unwrapInboundIn(data) {
            failure.fail(ClientError("the server answered the upgrade to \(path) with \(response.status.code) \(response.status.reasonPhrase)"))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
            failure.fail(ClientError("the TLS handshake with \(host):\(port) failed: \(error); check that the host serves wss:// on that port, and that its certificate names \(host) and is signed by a CA this client trusts"))
        } else {
            failure.fail(ClientError("the WebSocket upgrade to \(path) failed: \(error)"))
        }
        context.close(promise: nil)
    }
}

/// Turns received frames into events; answers pings and the server's close.
private final class ClientMessageHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let events: EventBuffer
    private var sawClose = false

    init(events: EventBuffer) {
        self.events = events
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let text = String(buffer: frame.unmaskedData)
            events.push(.message(try? JSONParser.parse(text), text: text))
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self) ?? CloseCode.noStatus.rawValue
            let reason = data.readString(length: data.readableBytes) ?? ""
            if !sawClose {
                sawClose = true
                events.push(.closeFrame(code: code, reason: reason))
                var echo = context.channel.allocator.buffer(capacity: 2)
                echo.writeInteger(code)
                let reply = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: echo)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        events.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
