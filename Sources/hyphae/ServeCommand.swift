import ArgumentParser
import Dispatch
import Foundation
import HyphaeCore
import HyphaeHost
import Logging

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

    @Option(help: "The admin API key (also HYPHAE_ADMIN_KEY).")
    var adminKey: String?

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
        bootstrapLogging(settings)
        let logger = Logger(label: "hyphae")
        let registry = InstalledPlugins.registry()
        guard registry.conflicts.isEmpty else {
            throw CommandFailure("two stage modules register the same stage type: \(registry.conflicts.joined(separator: ", "))")
        }
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
        await waitForShutdownSignal()
        reloadOnHangUp.cancel()
        await server.shutdown()
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
        if let tlsCertificate { settings.tlsCertificateFile = tlsCertificate }
        if let tlsKey { settings.tlsKeyFile = tlsKey }
        let problems = settings.startupProblems()
        guard problems.isEmpty else { throw CommandFailure(problems.joined(separator: "\n")) }
        return settings
    }

    private func bootstrapLogging(_ settings: HostConfiguration) {
        let format = settings.logFormat.resolved(standardErrorIsTerminal: isatty(STDERR_FILENO) == 1)
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format == .text ? TextLogFormat() : JSONLogFormat())
            handler.logLevel = settings.logLevel
            return handler
        }
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

/// Returns when the process receives SIGINT or SIGTERM.
func waitForShutdownSignal() async {
    let (signals, continuation) = AsyncStream<Int32>.makeStream()
    let queue = DispatchQueue(label: "hyphae.signals")
    let sources = [SIGINT, SIGTERM].map { signalNumber in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
        source.setEventHandler { continuation.yield(signalNumber) }
        source.resume()
        return source
    }
    for await _ in signals { break }
    withExtendedLifetime(sources) {}
}
