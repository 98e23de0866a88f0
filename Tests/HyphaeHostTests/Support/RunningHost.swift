import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaePlugins
import HyphaeTesting
import Logging
import Synchronization

struct HostStartError: Error, CustomStringConvertible {
    var description: String
}

/// A real host on a free loopback port, serving pipeline files written into a
/// temporary folder. Hands out connected clients and closes them with the host.
final class RunningHost: Sendable {
    let server: HyphaeServer
    let port: Int
    private let clients = Mutex<[ProtocolClient]>([])

    private init(server: HyphaeServer, port: Int) {
        self.server = server
        self.port = port
    }

    var configuration: HostConfiguration { server.host.configuration }

    static func start(
        pipelines: [String: String], folder: TemporaryFolder, logs: LogRecorder? = nil, configure: (inout HostConfiguration) -> Void
    ) async throws -> RunningHost {
        for (name, yaml) in pipelines {
            try folder.write("\(name).yaml", yaml)
        }
        var configuration = HostConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.pipelinesDirectory = folder.url.path
        configuration.shutdownDeadline = 5
        configure(&configuration)
        let registry = HostStages.registry(adding: BundledPlugins.all)
        let catalog = PipelineCatalog.load(paths: [configuration.pipelinesDirectory], loader: PipelineLoader(registry: registry, environment: [:]))
        guard !catalog.hasErrors else {
            throw HostStartError(description: "the test pipelines do not load:\n" + catalog.diagnostics.map(\.description).joined(separator: "\n"))
        }
        let logger = logs?.logger(label: "hyphae.e2e") ?? Logger(label: "hyphae.e2e") { _ in SwiftLogNoOpLogHandler() }
        let server = HyphaeServer(host: HostContext(configuration: configuration, catalog: catalog, registry: registry, logger: logger))
        let port = try await server.start()
        return RunningHost(server: server, port: port)
    }

    /// A client connected to `path` (over TLS with `tls`), closed when the host stops.
    func connect(_ path: String = "/ws", tls: ClientTLS? = nil) async throws -> ProtocolClient {
        let client = try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: path, tls: tls)
        clients.withLock { $0.append(client) }
        return client
    }

    /// A plain HTTP GET against the host; https:// with `tls`.
    func get(_ path: String, tls: ClientTLS? = nil) async throws -> HTTPReply {
        try await HTTPReply.get(host: "127.0.0.1", port: port, path: path, tls: tls)
    }

    /// `GET /pipelines`, the entry of one pipeline.
    func pipelineStatus(_ name: String) async throws -> JSONObject {
        let reply = try await get("/pipelines")
        guard reply.status == 200, let document = try? JSONParser.parse(reply.body).objectValue,
            let entries = document["pipelines"]?.arrayValue
        else {
            throw HostStartError(description: "GET /pipelines answered \(reply.status): \(reply.body)")
        }
        guard let entry = entries.compactMap(\.objectValue).first(where: { $0["name"]?.stringValue == name }) else {
            throw HostStartError(description: "GET /pipelines does not list '\(name)': \(reply.body)")
        }
        return entry
    }

    /// Polls `GET /pipelines` until `condition` holds for the pipeline's entry,
    /// for things that no message announces (counters, instances stopping).
    @discardableResult
    func waitForPipelineStatus(
        _ name: String, timeout: Duration = .seconds(15), what: String, until condition: (JSONObject) -> Bool
    ) async throws -> JSONObject {
        let deadline = ContinuousClock.now + timeout
        var last = try await pipelineStatus(name)
        while !condition(last) {
            guard ContinuousClock.now < deadline else {
                throw HostStartError(description: "waited \(timeout) for \(what); GET /pipelines last showed \(JSONValue.object(last).jsonText)")
            }
            try await Task.sleep(for: .milliseconds(25))
            last = try await pipelineStatus(name)
        }
        return last
    }

    /// A sample of `GET /metrics` as it is rendered (`name{labels}`), or nil when absent.
    func metric(_ sample: String) async throws -> Int? {
        let body = try await get("/metrics").body
        return body.split(separator: "\n").first { $0.hasPrefix(sample + " ") }.flatMap { Int($0.dropFirst(sample.count + 1)) }
    }

    /// Polls `/metrics` until the sample reaches `atLeast`.
    func waitForMetric(_ sample: String, atLeast minimum: Int, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let value = try await metric(sample)
            if let value, value >= minimum { return }
            guard ContinuousClock.now < deadline else {
                throw ExpectationFailure("\(sample) did not reach \(minimum) within \(timeout); last \(value.map(String.init) ?? "absent")")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    func stop() async {
        await server.shutdown()
        for client in clients.withLock({ $0 }) {
            await client.disconnect()
        }
    }
}

/// Runs `body` against a fresh host and always shuts the host down afterwards.
func withHost<Result>(
    pipelines: [String: String] = PipelineFixtures.standard,
    logs: LogRecorder? = nil,
    configure: (inout HostConfiguration) -> Void = { _ in },
    _ body: (RunningHost) async throws -> Result
) async throws -> Result {
    let folder = try TemporaryFolder()
    let host = try await RunningHost.start(pipelines: pipelines, folder: folder, logs: logs, configure: configure)
    let result: Result
    do {
        result = try await body(host)
    } catch {
        await host.stop()
        throw error
    }
    await host.stop()
    withExtendedLifetime(folder) {}
    return result
}
