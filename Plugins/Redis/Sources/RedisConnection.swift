import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The server answered a command with an error reply (`-ERR ...`, `-WRONGPASS ...`).
public struct RedisServerError: Error, Sendable, Equatable, CustomStringConvertible {
    public var command: String
    public var message: String

    public var description: String { "Redis refused \(command): \(message)" }
}

/// The connection is gone, or never came: what happened, for the log and `/ready`.
public struct RedisConnectionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }

    static let closed = RedisConnectionError("the connection to Redis closed")
}

/// How to open a connection, besides where to.
public struct RedisConnectionSettings: Sendable {
    public var connectTimeout: TimeAmount
    public var limits: RESPLimits
    /// Unsolicited replies (pub/sub messages) held for the reader; beyond them the
    /// oldest are dropped and counted.
    public var pushCapacity: Int
    /// For `rediss://`; nil for `redis://`.
    public var tls: NIOSSLContext?

    public init(connectTimeout: TimeAmount = .seconds(5), limits: RESPLimits = .standard, pushCapacity: Int = 1024, tls: NIOSSLContext? = nil) {
        self.connectTimeout = connectTimeout
        self.limits = limits
        self.pushCapacity = pushCapacity
        self.tls = tls
    }

    /// The TLS context for `rediss://`: the system's trusted certificates, or those of
    /// `caFile` (PEM) when given.
    public static func tlsContext(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile {
            configuration.trustRoots = .file(caFile)
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// One connection to a Redis server: commands answered in order, and the replies
/// nobody asked for (pub/sub messages) in `pushes`. Commands may be sent from any
/// thread; their replies come back in the order they were sent.
public final class RedisConnection: Sendable {
    private let channel: any Channel
    /// Pub/sub messages and any other reply that no command waits for.
    public let pushes: AsyncStream<RESPValue>
    private let droppedPushes: DropCounter

    private init(channel: any Channel, pushes: AsyncStream<RESPValue>, droppedPushes: DropCounter) {
        self.channel = channel
        self.pushes = pushes
        self.droppedPushes = droppedPushes
    }

    /// Pub/sub messages dropped because the reader fell `pushCapacity` behind.
    public var pushesDropped: Int { droppedPushes.value.load(ordering: .relaxed) }

    /// Connects, then authenticates (`AUTH`) and selects the database when the endpoint says so.
    public static func connect(
        to endpoint: RedisEndpoint, settings: RedisConnectionSettings, on group: any EventLoopGroup
    ) async throws -> RedisConnection {
        let (pushes, continuation) = AsyncStream.makeStream(of: RESPValue.self, bufferingPolicy: .bufferingNewest(max(1, settings.pushCapacity)))
        let dropped = DropCounter()
        let connection: RedisConnection
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(settings.connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let operations = channel.pipeline.syncOperations
                        if let tls = settings.tls {
                            let name = endpoint.host.isIPAddress ? nil : endpoint.host
                            try operations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: name))
                        }
                        try operations.addHandler(ByteToMessageHandler(RESPDecoder(limits: settings.limits)))
                        try operations.addHandler(MessageToByteHandler(RESPCommandEncoder()))
                        try operations.addHandler(RedisReplyHandler(pushes: continuation, dropped: dropped))
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port).get()
            connection = RedisConnection(channel: channel, pushes: pushes, droppedPushes: dropped)
        } catch {
            continuation.finish()
            throw RedisConnectionError("cannot connect to \(endpoint): \(error)")
        }
        do {
            if let password = endpoint.password {
                let auth = endpoint.user.map { RESPCommand("AUTH", $0, password) } ?? RESPCommand("AUTH", password)
                _ = try await connection.request(auth)
            }
            if endpoint.database != 0 {
                _ = try await connection.request(RESPCommand("SELECT", String(endpoint.database)))
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Sends a command; the future holds its reply, an error reply included. With
    /// `timeout`, a reply that takes longer closes the connection (a server gone
    /// without a word), and the future fails.
    public func send(_ command: RESPCommand, timeout: TimeAmount? = nil) -> EventLoopFuture<RESPValue> {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        // A write that never reaches the handler (the channel closed first) fails the reply too.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in promise.fail(RedisConnectionError.closed) }
        channel.writeAndFlush(RedisReplyHandler.Request(command: command, reply: promise), promise: written)
        if let timeout {
            let channel = self.channel
            let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                promise.fail(RedisConnectionError("Redis did not answer \(command.name) within \(timeout.nanoseconds / 1_000_000) ms"))
                channel.close(promise: nil)
            }
            promise.futureResult.whenComplete { _ in deadline.cancel() }
        }
        return promise.futureResult
    }

    /// Sends a command and waits for its reply; an error reply throws `RedisServerError`.
    public func request(_ command: RESPCommand, timeout: TimeAmount? = nil) async throws -> RESPValue {
        let reply = try await send(command, timeout: timeout).get()
        if case .error(let message) = reply {
            throw RedisServerError(command: command.name, message: message)
        }
        return reply
    }

    public var isActive: Bool { channel.isActive }

    /// Completes when the connection has closed, for whatever reason.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    public var eventLoop: any EventLoop { channel.eventLoop }

    public func close() {
        channel.close(promise: nil)
    }
}

final class DropCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// Matches replies to the commands that asked, in order, and hands on the rest.
final class RedisReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = RESPCommand

    struct Request: Sendable {
        var command: RESPCommand
        var reply: EventLoopPromise<RESPValue>
    }

    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>(initialCapacity: 16)
    private let pushes: AsyncStream<RESPValue>.Continuation
    private let dropped: DropCounter
    private var isClosed = false

    init(pushes: AsyncStream<RESPValue>.Continuation, dropped: DropCounter) {
        self.pushes = pushes
        self.dropped = dropped
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard !isClosed else {
            request.reply.fail(RedisConnectionError.closed)
            promise?.fail(RedisConnectionError.closed)
            return
        }
        waiting.append(request.reply)
        context.write(wrapOutboundOut(request.command), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        if let reply = waiting.popFirst() {
            reply.succeed(value)
        } else {
            if case .dropped = pushes.yield(value) {
                dropped.value.add(1, ordering: .relaxed)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisConnectionError("the connection to Redis failed: \(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.closed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: RedisConnectionError) {
        isClosed = true
        while let reply = waiting.popFirst() {
            reply.fail(error)
        }
        pushes.finish()
    }
}

extension String {
    /// Whether it is an IPv4 or IPv6 literal, which TLS does not send as a server name.
    var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
