import Foundation
import HyphaeCore
import HyphaeSockets
import HyphaeWire
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
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
    private let serverListener = Mutex<ServerListener?>(nil)
    private let adminListener = Mutex<ServerListener?>(nil)
    /// The admin listener's connections are counted apart, so that a public port full
    /// of connections does not lock the operator out.
    private let adminConnections: ConnectionCounts
    private let nextConnection = Atomic<Int>(1)
    private let watcher = Mutex<Task<Void, Never>?>(nil)
    private let heapTrimmer = Mutex<Task<Void, Never>?>(nil)
    private let adminGate: AdminGate
    private let originPolicy: RequestOriginPolicy
    /// Set by `start` when the configuration names a certificate and key.
    private let tls = Mutex<ServerTLSContext?>(nil)

    public init(host: HostContext) {
        self.host = host
        reloader = PipelineReloader(host: host, directory: host.configuration.pipelinesDirectory)
        adminGate = AdminGate(key: host.configuration.adminKey)
        originPolicy = RequestOriginPolicy(configuration: host.configuration)
        adminConnections = ConnectionCounts(limits: host.configuration.limits)
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

    /// Binds the listening socket, and the admin listener when an admin port is
    /// configured; returns the public port (useful with port 0). With a certificate and
    /// key configured, reads them first and throws `TLSSetupError`, naming the file, when
    /// they cannot serve; a port that cannot be bound throws `ListenError`, and nothing
    /// is left listening.
    @discardableResult
    public func start() async throws -> Int {
        Self.raiseOpenFileLimit(logger: host.logger)
        let host = self.host
        let configuration = host.configuration
        let tls = try Self.loadTLS(configuration, logger: host.logger)
        self.tls.withLock { $0 = tls }
        let listener = try await bind(configuration.host, configuration.port, role: configuration.adminPort == nil ? .everything : .publicOnly, tls: tls)
        serverListener.withLock { $0 = listener }
        let port = listener.port ?? configuration.port
        if let requestedAdminPort = configuration.adminPort {
            do {
                let admin = try await bind(configuration.adminHost, requestedAdminPort, role: .adminOnly, tls: tls)
                adminListener.withLock { $0 = admin }
                host.logger.info("listening for the admin API", metadata: [
                    "event": "listening_admin", "address": "\(configuration.adminHost):\(admin.port ?? requestedAdminPort)",
                    "tls": "\(tls != nil)",
                ])
            } catch {
                await listener.close()
                serverListener.withLock { $0 = nil }
                throw error
            }
        }
        startTrimmingHeap()
        host.logger.info("listening", metadata: [
            "event": "listening", "address": "\(configuration.host):\(port)",
            "pipelines": "\(host.pipelines.map(\.name).joined(separator: ","))",
            "auth_required": "\(host.authenticator.isRequired)",
            "tls": "\(tls != nil)", "direct_writes": "\(Self.writesDirectly(configuration, tls: tls))",
        ])
        return port
    }

    private func startTrimmingHeap() {
        let trimmer = HeapTrimmer(interval: .seconds(host.configuration.heapTrimInterval), metrics: host.metrics, logger: host.logger)
        heapTrimmer.withLock { task in
            task?.cancel()
            // `shutdown` marks the host before it takes this lock to cancel the task, so a
            // shutdown that raced this start either cancels the task or keeps it from starting.
            task = host.isShuttingDown ? nil : Task { await trimmer.run() }
        }
    }

    /// The admin listener's port, once started with an admin port; nil without one.
    public var adminPort: Int? {
        adminListener.withLock { $0?.port }
    }

    /// Plain listeners accept on a thread of their own and write to their sockets
    /// directly, unless `direct_writes` is off; TLS must encrypt every byte, so its
    /// connections write through NIO.
    private static func writesDirectly(_ configuration: HostConfiguration, tls: ServerTLSContext?) -> Bool {
        tls == nil && configuration.directWrites
    }

    private func bind(_ address: String, _ port: Int, role: ListenerRole, tls: ServerTLSContext?) async throws -> ServerListener {
        if Self.writesDirectly(host.configuration, tls: tls) {
            return .acceptor(try acceptDirectly(address, port, role: role))
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 8)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.configureConnection(channel, tls: tls, role: role)
                }
            }
        do {
            return .bootstrap(try await bootstrap.bind(host: address, port: port).get())
        } catch {
            throw ListenError(role: role, address: address, port: port, underlying: error)
        }
    }

    /// Listens with a `SocketAcceptor` and hands each connection to a loop by descriptor,
    /// set up as `ServerBootstrap` would set it up, with its descriptor kept for direct writes.
    private func acceptDirectly(_ address: String, _ port: Int, role: ListenerRole) throws -> SocketAcceptor {
        let acceptor: SocketAcceptor
        do {
            acceptor = try SocketAcceptor(host: address, port: port)
        } catch {
            throw ListenError(role: role, address: address, port: port, underlying: error)
        }
        let group = self.group
        let logger = host.logger
        // `shutdown` stops the acceptor before it shuts the loops down, so a hand-off
        // never meets a closed loop; one that fails is logged, and NIO closes the socket.
        acceptor.start(name: role == .adminOnly ? "hyphae-admin-acceptor" : "hyphae-acceptor") { [self] descriptor in
            ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.maxMessagesPerRead, value: 8)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try self.configureConnection(channel, tls: nil, role: role, directDescriptor: descriptor)
                    }
                }
                .withConnectedSocket(descriptor)
                .whenFailure { error in
                    logger.warning("could not set up an accepted connection", metadata: ["event": "accept_failed", "error": "\(error)"])
                }
        }
        return acceptor
    }

    /// Whether the port speaks TLS (wss:// and https://).
    public var servesTLS: Bool {
        tls.withLock { $0 != nil }
    }

    /// Reads the certificate and key files again (on SIGHUP): connections accepted from
    /// now on get the new certificate, open ones keep theirs. Bad files are logged and
    /// the current certificate goes on serving. Returns whether the new files were taken;
    /// false also when the host serves no TLS.
    @discardableResult
    public func reloadTLSCertificate(trigger: String) -> Bool {
        guard let tls = tls.withLock({ $0 }) else { return false }
        do {
            let identity = try tls.reload()
            host.logger.info("reloaded the TLS certificate", metadata: [
                "event": "tls_reload", "trigger": "\(trigger)", "result": "success",
                "certificate": "\(tls.files.certificateFile)", "not_after": "\(identity.notValidAfter)",
            ])
            Self.warnIfExpired(identity.notValidAfter, file: tls.files.certificateFile, logger: host.logger)
            return true
        } catch {
            host.logger.error("kept the previous TLS certificate: \(error.description)", metadata: [
                "event": "tls_reload", "trigger": "\(trigger)", "result": "failed", "error": "\(error.description)",
            ])
            return false
        }
    }

    private static func loadTLS(_ configuration: HostConfiguration, logger: Logger) throws(TLSSetupError) -> ServerTLSContext? {
        guard let certificate = configuration.tlsCertificateFile, let key = configuration.tlsKeyFile else { return nil }
        let tls = try ServerTLSContext(files: ServerTLSFiles(certificateFile: certificate, keyFile: key))
        warnIfExpired(tls.notValidAfter, file: certificate, logger: logger)
        return tls
    }

    /// An expired certificate still serves (the operator may be replacing it), but every
    /// client that checks it will refuse the connection, so the log says so.
    private static func warnIfExpired(_ notValidAfter: Date, file: String, logger: Logger) {
        guard notValidAfter < Date() else { return }
        logger.warning("the TLS certificate in \(file) expired at \(notValidAfter); clients will refuse it until it is replaced (then send SIGHUP)", metadata: [
            "event": "tls_certificate_expired", "certificate": "\(file)", "not_after": "\(notValidAfter)",
        ])
    }

    /// permessage-deflate, when the upgrade request offers terms the host can keep.
    private static func deflateAgreement(_ head: HTTPRequestHead) -> PerMessageDeflateAgreement? {
        PerMessageDeflateNegotiation.agreement(offers: head.headers["Sec-WebSocket-Extensions"])
    }

    private func configureConnection(_ channel: Channel, tls: ServerTLSContext?, role: ListenerRole, directDescriptor: CInt? = nil) throws {
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
                guard role.servesStreams, !host.isShuttingDown, originPolicy.refusal(of: head) == nil, host.endpoint(forPath: path) != nil else {
                    return channel.eventLoop.makeSucceededFuture(nil)
                }
                var headers = HTTPHeaders()
                if let deflate = Self.deflateAgreement(head) {
                    headers.add(name: "Sec-WebSocket-Extensions", value: deflate.responseHeader)
                }
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let endpoint = host.endpoint(forPath: Self.path(of: head.uri)) ?? .anyPipeline
                    let operations = channel.pipeline.syncOperations
                    // The same offer read again gives the same answer the handshake response gave.
                    let deflates = Self.deflateAgreement(head) != nil
                    let headWriter = HeadWriter(acceptsCompressedFrames: deflates, directDescriptor: directDescriptor)
                    // Pre-encoded frames enter right above the socket, or above TLS, which must encrypt them.
                    if let tlsHandler = try? operations.handler(type: NIOSSLServerHandler.self) {
                        try operations.addHandler(headWriter, position: .after(tlsHandler))
                    } else {
                        try operations.addHandler(headWriter, position: .first)
                    }
                    try operations.addHandler(ClientFrameValidator(allowsCompressedMessages: deflates))
                    if deflates {
                        try operations.addHandler(CompressedMessageInflater(limit: configuration.maxFrameSize))
                    }
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
        let routes = HTTPRouteHandler(routes: HTTPRoutes(host: host, admin: admin), limits: configuration.limits, adminGate: adminGate, originPolicy: originPolicy, role: role)
        // The limiter first: a connection is counted before it costs a TLS handshake.
        let counts = role == .adminOnly ? adminConnections : host.connections
        try channel.pipeline.syncOperations.addHandler(ConnectionLimiter(connections: counts, trusted: configuration.limits.trustedAddresses, logger: host.logger))
        if let tls {
            // Then TLS: everything after it sees the same HTTP and WebSocket bytes as on a plain port.
            let operations = channel.pipeline.syncOperations
            try operations.addHandler(PlaintextRequestRefuser(logger: host.logger, connectionID: connectionID, remote: remote))
            try operations.addHandler(NIOSSLServerHandler(context: tls.current))
            try operations.addHandler(TLSHandshakeLogger(logger: host.logger, connectionID: connectionID, remote: remote))
        }
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
        heapTrimmer.withLock { $0?.cancel() }
        host.logger.info("shutting down", metadata: ["event": "shutdown_started", "connections": "\(host.channels.count)"])
        await serverListener.withLock({ $0 })?.close()
        await adminListener.withLock({ $0 })?.close()
        for channel in host.channels {
            channel.pipeline.fireUserInboundEventTriggered(ServerShutdownEvent())
        }
        let deadline = ContinuousClock.now + .nanoseconds(TimeAmount.interval(seconds: host.configuration.shutdownDeadline).nanoseconds)
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
        guard let listener = serverListener.withLock({ $0 }) else { return }
        try await listener.waitUntilClosed()
    }

    /// Lifts the soft limit on open files to the hard limit: every connection is a file.
    static func raiseOpenFileLimit(logger: Logger) {
        guard let limit = OpenFileLimit.raiseToHardLimit() else { return }
        if limit < 20_000 {
            logger.warning("the open-files limit is \(limit); each connection takes one, so raise it (ulimit -n) to serve more connections", metadata: ["event": "open_files_limit"])
        }
    }
}
