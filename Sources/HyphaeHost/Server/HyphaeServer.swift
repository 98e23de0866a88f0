import HyphaeCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The WebSocket and HTTP server: binds, accepts, upgrades, and shuts down gracefully.
public final class HyphaeServer: Sendable {
    public static let version = HyphaeVersion.current

    public let host: HostContext
    public let reloader: PipelineReloader
    private let group: MultiThreadedEventLoopGroup
    private let serverChannel = Mutex<Channel?>(nil)
    private let nextConnection = Atomic<Int>(1)
    private let watcher = Mutex<Task<Void, Never>?>(nil)
    private let adminGate: AdminGate
    private let originPolicy: RequestOriginPolicy

    public init(host: HostContext) {
        self.host = host
        reloader = PipelineReloader(host: host, directory: host.configuration.pipelinesDirectory)
        adminGate = AdminGate(key: host.configuration.adminKey)
        originPolicy = RequestOriginPolicy(configuration: host.configuration)
        group = MultiThreadedEventLoopGroup(numberOfThreads: host.configuration.eventLoopThreads)
    }

    /// Reloads whenever the pipelines folder changes, until shutdown.
    public func watchPipelinesFolder() {
        let folder = FolderWatcher(directory: host.configuration.pipelinesDirectory)
        let reloader = self.reloader
        watcher.withLock { task in
            task = Task {
                await folder.run { await reloader.reload(trigger: "file_change") }
            }
        }
    }

    /// Binds the listening socket; returns the port (useful with port 0).
    @discardableResult
    public func start() async throws -> Int {
        Self.raiseOpenFileLimit(logger: host.logger)
        let host = self.host
        let configuration = host.configuration
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 8)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.configureConnection(channel)
                }
            }
        let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        serverChannel.withLock { $0 = channel }
        let port = channel.localAddress?.port ?? configuration.port
        host.logger.info("listening", metadata: [
            "event": "listening", "address": "\(configuration.host):\(port)",
            "pipelines": "\(host.pipelines.map(\.name).joined(separator: ","))",
            "auth_required": "\(host.authenticator.isRequired)",
        ])
        return port
    }

    private func configureConnection(_ channel: Channel) throws {
        let host = self.host
        let originPolicy = self.originPolicy
        let configuration = host.configuration
        let number = nextConnection.wrappingAdd(1, ordering: .relaxed).oldValue
        let connectionID = "c\(number)"
        let remote = channel.remoteAddress?.description ?? "unknown"
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: configuration.maxFrameSize,
            automaticErrorHandling: true,
            shouldUpgrade: { channel, head in
                let path = Self.path(of: head.uri)
                // A refused upgrade goes on to the routes, which answer it (403 for the origin).
                guard !host.isShuttingDown, originPolicy.refusal(of: head) == nil, host.endpoint(forPath: path) != nil else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let endpoint = host.endpoint(forPath: Self.path(of: head.uri)) ?? .anyPipeline
                    let operations = channel.pipeline.syncOperations
                    try operations.addHandler(HeadWriter(), position: .first)
                    try operations.addHandler(ClientFrameValidator())
                    try operations.addHandler(NIOWebSocketFrameAggregator(
                        minNonFinalFragmentSize: 1,
                        maxAccumulatedFrameCount: 1024,
                        maxAccumulatedFrameSize: configuration.maxFrameSize
                    ))
                    try operations.addHandler(ProtocolSession(host: host, endpoint: endpoint, remoteAddress: remote, connectionID: connectionID))
                }
            }
        )
        let admin = AdminAPI(host: host, reloader: reloader, directory: configuration.pipelinesDirectory)
        let routes = HTTPRouteHandler(routes: HTTPRoutes(host: host, admin: admin), limits: configuration.limits, adminGate: adminGate, originPolicy: originPolicy)
        try channel.pipeline.syncOperations.addHandler(ConnectionLimiter(connections: host.connections))
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                context.pipeline.syncOperations.removeHandler(name: "hyphae.routes", promise: nil)
            })
        )
        try channel.pipeline.syncOperations.addHandler(routes, name: "hyphae.routes")
    }

    private static func path(of uri: String) -> String {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
    }

    /// Turns `/ready` to 503 for `seconds` before shutting down, so that a load balancer
    /// stops sending clients here before the listener closes; then shuts down.
    public func shutdown(afterReadinessGrace seconds: Double) async {
        host.beginDraining()
        if seconds > 0 { try? await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }
        await shutdown()
    }

    /// Stops accepting, ends every subscription with `stream_end` (`server_shutdown`),
    /// closes every connection with 1001, and waits for them up to the deadline.
    public func shutdown() async {
        guard host.beginShutdown() else { return }
        watcher.withLock { $0?.cancel() }
        host.logger.info("shutting down", metadata: ["event": "shutdown_started", "connections": "\(host.channels.count)"])
        let listener = serverChannel.withLock { $0 }
        try? await listener?.close().get()
        for channel in host.channels {
            channel.pipeline.fireUserInboundEventTriggered(ServerShutdownEvent())
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(host.configuration.shutdownDeadline * 1000))
        while !host.channels.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for channel in host.channels { channel.close(promise: nil) }
        host.instances.stopAll()
        host.logger.info("shut down", metadata: ["event": "shutdown_complete"])
        try? await group.shutdownGracefully()
    }

    /// Waits until the listening socket closes.
    public func waitUntilClosed() async throws {
        guard let listener = serverChannel.withLock({ $0 }) else { return }
        try await listener.closeFuture.get()
    }

    /// Lifts the soft limit on open files to the hard limit: every connection is a file.
    static func raiseOpenFileLimit(logger: Logger) {
        guard let limit = OpenFileLimit.raiseToHardLimit() else { return }
        if limit < 20_000 {
            logger.warning("the open-files limit is \(limit); each connection takes one, so raise it (ulimit -n) to serve more connections", metadata: ["event": "open_files_limit"])
        }
    }
}
