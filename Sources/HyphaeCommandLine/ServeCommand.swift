import ArgumentParser
import Dispatch
import Foundation
import HyphaeCore
import HyphaeHost
import Logging
import Synchronization

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the pipelines to WebSocket clients.",
        discussion: """
            Settings come from the host config file (--config), then the MFN_* variables
            (MFN_ENV, MFN_API_KEY, MFN_API_KEYS, MFN_API_KEY_REQUIRED), then these flags.
            SIGINT or SIGTERM shut down gracefully: every subscriber gets stream_end with
            server_shutdown and its connection closes with 1001. With --tls-cert and --tls-key
            the port serves wss:// and https:// only (TLS 1.2 and later); SIGHUP reads both
            files again for new connections, as well as reloading the pipelines.
            """
    )

    @Option(help: "A host config file (YAML).")
    var config: String?

    @Option(help: "The address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "The port to listen on (default 8080; 0 picks a free one).")
    var port: Int?

    @Option(help: "The folder of pipeline files (default ./pipelines).")
    var pipelines: String?

    @Option(help: "Seconds between heartbeats (default 30).")
    var heartbeatInterval: Double?

    @Option(help: "Seconds without a sign of life before closing with 4000 (default 60).")
    var heartbeatTimeout: Double?

    @Option(help: "Seconds a connection has to authenticate, where auth is required (default 10).")
    var authDeadline: Double?

    @Option(help: "json (one object per line), text (one readable line), or auto (default): text when standard error is a terminal, else json.")
    var logFormat: HostConfiguration.LogFormat?

    @Option(help: "The lowest level logged (default info).")
    var logLevel: Logger.Level?

    @Option(help: "The admin API key (also HYPHAE_ADMIN_KEY). Visible to anyone who can list processes: prefer --admin-key-file or the environment.")
    var adminKey: String?

    @Option(help: "A file whose first line is the admin API key.")
    var adminKeyFile: String?

    @Option(help: "Serve the admin API only on a listener of its own at this port (0: any free one); the public port then answers /admin/ with 404. Needs an admin key.")
    var adminPort: Int?

    @Option(help: "The address of the admin listener (default 127.0.0.1).")
    var adminHost: String?

    @OptionGroup(title: "Limits")
    var limits: LimitOptions
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("The certificate chain (PEM, the server's certificate first): serve wss:// and https://. Needs --tls-key.", valueName: "file"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The private key (PEM, unencrypted) of the --tls-cert certificate.", valueName: "file"))
    var tlsKey: String?

    func validate() throws {
        // Only the flags are known here; one of the pair may still come from --config.
        if config == nil, (tlsCertificate == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together: give both, the certificate chain and its private key, or neither to serve plain ws://")
        }
    }

    func run() async throws {
        let settings = try resolveConfiguration()
        let logWriter = bootstrapLogging(settings)
        defer { logWriter.drain() }
        let logger = Logger(label: "hyphae")
        let registry = try InstalledPlugins.current.registry()
        let catalog = PipelineCatalog.load(paths: [settings.pipelinesDirectory], loader: PipelineLoader(registry: registry))
        for diagnostic in catalog.diagnostics {
            logger.log(level: diagnostic.isError ? .error : .warning, "\(diagnostic.description)", metadata: ["event": "pipeline_invalid"])
        }
        if catalog.pipelines.isEmpty {
            logger.warning("no valid pipelines in \(settings.pipelinesDirectory); only /ws/heartbeat will be useful", metadata: ["event": "no_pipelines"])
        }
        let server = HyphaeServer(host: HostContext(configuration: settings, catalog: catalog, registry: registry, logger: logger))
        let port = try await server.start()
        server.watchPipelinesFolder()
        let reloadOnHangUp = reloadOnSignal(SIGHUP, server: server)
        let scheme = server.servesTLS ? "wss" : "ws"
        StandardError.write("hyphae \(HyphaeServer.version) serving \(catalog.pipelines.count) pipeline\(catalog.pipelines.count == 1 ? "" : "s") on \(scheme)://\(settings.host):\(port)")
        if let adminPort = server.adminPort {
            StandardError.write("the admin API is on \(server.servesTLS ? "https" : "http")://\(settings.adminHost):\(adminPort)/admin/ only")
        }
        await waitForShutdownSignal()
        reloadOnHangUp.cancel()
        await server.shutdown(afterReadinessGrace: settings.readinessGrace)
    }

    private func resolveConfiguration() throws -> HostConfiguration {
        var settings = HostConfiguration()
        do {
            if let config { settings = try HostConfiguration.load(file: config) }
            try settings.applyEnvironment(ProcessInfo.processInfo.environment)
        } catch let error as HostConfigurationError {
            throw CommandFailure(error.description)
        }
        if let host { settings.host = host }
        if let port { settings.port = port }
        if let pipelines { settings.pipelinesDirectory = pipelines }
        if let heartbeatInterval { settings.heartbeatInterval = heartbeatInterval }
        if let heartbeatTimeout { settings.heartbeatTimeout = heartbeatTimeout }
        if let authDeadline { settings.authDeadline = authDeadline }
        if let logFormat { settings.logFormat = logFormat }
        if let logLevel { settings.logLevel = logLevel }
        if let adminKey { settings.adminKey = adminKey }
        if let adminHost {
            guard adminPort != nil || settings.adminPort != nil else {
                throw CommandFailure("--admin-host needs an admin port: add --admin-port PORT (admin_port in the host config file)")
            }
            settings.adminHost = adminHost
        }
        if let adminPort { settings.adminPort = adminPort }
        if let adminKeyFile {
            do {
                settings.adminKey = try HostConfiguration.readKey(fromFile: adminKeyFile)
            } catch {
                throw CommandFailure(error.description)
            }
        }
        limits.apply(to: &settings.limits)
        if let tlsCertificate { settings.tlsCertificateFile = tlsCertificate }
        if let tlsKey { settings.tlsKeyFile = tlsKey }
        let problems = settings.startupProblems()
        guard problems.isEmpty else { throw CommandFailure(problems.joined(separator: "\n")) }
        return settings
    }

    /// Logs through a writer thread of their own, so that no event loop waits on standard error.
    @discardableResult
    private func bootstrapLogging(_ settings: HostConfiguration) -> BackgroundLogWriter {
        let resolved = settings.logFormat.resolved(standardErrorIsTerminal: isatty(STDERR_FILENO) == 1)
        let format: any LogLineFormat = resolved == .text ? TextLogFormat() : JSONLogFormat()
        let writer = BackgroundLogWriter(writingTo: .standardError) { dropped in
            format.line(for: LogRecord(
                milliseconds: WallClock.nowMilliseconds(), level: .warning, label: "hyphae",
                message: "log lines dropped: the log could not keep up",
                fields: [("count", "\(dropped)"), ("event", "log_lines_dropped")]))
        }
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format, output: writer.output)
            handler.logLevel = settings.logLevel
            return handler
        }
        return writer
    }
}

extension HostConfiguration.LogFormat: ExpressibleByArgument {}

// Neither swift-log nor ArgumentParser depends on the other, so neither can declare this;
// with it, a misspelt --log-level is refused with the list of levels.
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Reloads the TLS certificate and the pipelines each time the process receives `signalNumber` (SIGHUP).
func reloadOnSignal(_ signalNumber: Int32, server: HyphaeServer) -> Task<Void, Never> {
    let (signals, continuation) = AsyncStream<Int32>.makeStream(bufferingPolicy: .bufferingNewest(1))
    signal(signalNumber, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: DispatchQueue(label: "hyphae.sighup"))
    source.setEventHandler { continuation.yield(signalNumber) }
    source.resume()
    return Task {
        for await _ in signals {
            server.reloadTLSCertificate(trigger: "SIGHUP")
            await server.reloader.reload(trigger: "SIGHUP")
        }
        withExtendedLifetime(source) {}
    }
}

/// Returns when the process receives SIGINT or SIGTERM. A second one, while the host
/// drains, ends the process at once: whoever sends it does not want to wait.
func waitForShutdownSignal() async {
    let (signals, continuation) = AsyncStream<Int32>.makeStream()
    let queue = DispatchQueue(label: "hyphae.signals")
    let received = Mutex(0)
    let sources = [SIGINT, SIGTERM].map { signalNumber in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
        source.setEventHandler {
            let count = received.withLock { count in
                count += 1
                return count
            }
            guard count > 1 else {
                continuation.yield(signalNumber)
                return
            }
            StandardError.write("hyphae: a second signal; exiting without waiting for connections to close")
            exit(128 + signalNumber)
        }
        source.resume()
        return source
    }
    for await _ in signals { break }
    // The sources stay installed for the rest of the process, to catch the second signal:
    // retained once more, never released.
    for source in sources { _ = Unmanaged.passRetained(source as AnyObject) }
}
