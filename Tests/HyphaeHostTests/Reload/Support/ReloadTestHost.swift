import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaePlugins
import HyphaeTesting

#if canImport(Glibc)
import Glibc
#endif

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A reload test's expectation that did not hold; thrown so that the test stops there.
struct ReloadExpectationFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A real host, in this process, on a free loopback port, serving the pipeline
/// files of a temporary folder, with its folder watcher on (unless asked not to)
/// and an admin key. Its stage registry is the installed plugins plus the reload
/// test stages.
final class ReloadTestHost: Sendable {
    static let adminKey = "reload-admin-key"

    /// The pipelines folder; `stop()` deletes it unless asked to keep it.
    let folder: URL
    let server: HyphaeServer
    let port: Int
    let logs: LogRecorder

    private init(folder: URL, server: HyphaeServer, port: Int, logs: LogRecorder) {
        self.folder = folder
        self.server = server
        self.port = port
        self.logs = logs
    }

    var reloader: PipelineReloader { server.reloader }

    static var registry: StageRegistry {
        HostStages.registry(adding: BundledPlugins.all + [ReloadTestStagesPlugin.self])
    }

    /// Writes `files` (file name → YAML) into `folder` (a new temporary one by
    /// default) and starts a host over it.
    static func start(
        files: [String: String] = [:],
        folder existingFolder: URL? = nil,
        adminKey: String? = ReloadTestHost.adminKey,
        watchFolder: Bool = true,
        threads: Int = 2
    ) async throws -> ReloadTestHost {
        let folder = existingFolder ?? FileManager.default.temporaryDirectory.appendingPathComponent("hyphae-reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, yaml) in files { try writeAtomically(yaml, to: folder.appendingPathComponent(name).path) }
        var configuration = HostConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.pipelinesDirectory = folder.path
        configuration.adminKey = adminKey
        configuration.eventLoopThreads = threads
        configuration.shutdownDeadline = 2
        let registry = Self.registry
        let catalog = PipelineCatalog.load(paths: [folder.path], loader: PipelineLoader(registry: registry))
        let logs = LogRecorder()
        let context = HostContext(configuration: configuration, catalog: catalog, registry: registry, logger: logs.logger())
        let server = HyphaeServer(host: context)
        let port = try await server.start()
        if watchFolder { server.watchPipelinesFolder() }
        return ReloadTestHost(folder: folder, server: server, port: port, logs: logs)
    }

    /// Shuts the host down (idempotent) and deletes its folder unless asked to keep it.
    func stop(keepingFolder: Bool = false) async {
        await server.shutdown()
        if !keepingFolder { try? FileManager.default.removeItem(at: folder) }
    }

    // MARK: Files

    func path(of file: String) -> String {
        folder.appendingPathComponent(file).path
    }

    /// Replaces a file's text in one step (written to a temporary name, then renamed).
    func write(_ file: String, _ yaml: String) throws {
        try writeAtomically(yaml, to: path(of: file))
    }

    func remove(_ file: String) throws {
        try FileManager.default.removeItem(atPath: path(of: file))
    }

    func rename(_ file: String, to newName: String) throws {
        try FileManager.default.moveItem(atPath: path(of: file), toPath: path(of: newName))
    }

    func contents(of file: String) -> String? {
        try? String(contentsOfFile: path(of: file), encoding: .utf8)
    }

    // MARK: Clients

    func connect(path: String = "/ws") async throws -> ProtocolClient {
        try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: path)
    }

    /// Connects to `path` and subscribes; returns the client and its `subscribe_success`.
    func subscriber(
        path: String = "/ws", streamID: String = "s1", pipeline: String?, params: JSONObject? = nil
    ) async throws -> (client: ProtocolClient, success: JSONObject) {
        let client = try await connect(path: path)
        let success = try await client.subscribeExpectingSuccess(streamID, to: pipeline, params: params)
        return (client, success)
    }

    // MARK: HTTP

    /// An HTTP request to the host, sending `key` (the admin key by default; nil sends none) as a bearer token.
    func request(_ method: String, _ path: String, body: String? = nil, key: String? = ReloadTestHost.adminKey) async throws -> ReloadHTTPReply {
        try await reloadHTTPRequest(port: port, method, path, body: body, key: key)
    }

    /// GET /admin/pipelines/{name}, which must answer 200.
    func adminPipeline(_ name: String) async throws -> JSONObject {
        let reply = try await request("GET", "/admin/pipelines/\(name)")
        guard reply.status == 200 else { throw ReloadExpectationFailure("GET /admin/pipelines/\(name) answered \(reply.status): \(reply.body)") }
        return try reply.json
    }

    // MARK: Metrics

    /// A sample of the host's metrics, as `/metrics` renders it: `name{labels}` → value.
    func metric(_ sample: String) -> Int {
        for line in server.host.metrics.render().split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Int(line.dropFirst(sample.count + 1)) ?? 0
        }
        return 0
    }

    var reloadCount: (success: Int, failed: Int) {
        (metric("hyphae_reloads_total{result=\"success\"}"), metric("hyphae_reloads_total{result=\"failed\"}"))
    }

    var totalReloads: Int { reloadCount.success + reloadCount.failed }

    /// Waits until the host has done more than `count` reloads.
    func waitForReloads(moreThan count: Int, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while totalReloads <= count {
            guard ContinuousClock.now < deadline else {
                throw ReloadExpectationFailure("no reload after \(count) within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until the folder watcher has been quiet (no reload) for `quiet`.
    func waitUntilReloadsSettle(quiet: Duration = .milliseconds(800), timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        var seen = totalReloads
        var quietSince = ContinuousClock.now
        while ContinuousClock.now - quietSince < quiet {
            guard ContinuousClock.now < deadline else { throw ReloadExpectationFailure("reloads did not settle within \(timeout)") }
            try await Task.sleep(for: .milliseconds(25))
            let now = totalReloads
            if now != seen {
                seen = now
                quietSince = ContinuousClock.now
            }
        }
    }
}

/// An HTTP response: its status and body.
struct ReloadHTTPReply: Sendable {
    var status: Int
    var body: String

    var json: JSONObject {
        get throws {
            guard let object = try JSONParser.parse(body).objectValue else {
                throw ReloadExpectationFailure("the body is not a JSON object: \(body)")
            }
            return object
        }
    }
}

/// Sends one HTTP request to a host on loopback, with `key` as a bearer token when given.
func reloadHTTPRequest(port: Int, _ method: String, _ path: String, body: String? = nil, key: String?) async throws -> ReloadHTTPReply {
    guard let url = URL(string: "http://127.0.0.1:\(port)\(path)") else {
        throw ReloadExpectationFailure("not a URL path: \(path)")
    }
    var request = URLRequest(url: url)
    request.httpMethod = method
    request.timeoutInterval = 30
    if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/yaml", forHTTPHeaderField: "Content-Type")
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    guard let http = response as? HTTPURLResponse else { throw ReloadExpectationFailure("no HTTP response for \(method) \(path)") }
    return ReloadHTTPReply(status: http.statusCode, body: String(decoding: data, as: UTF8.self))
}

/// Writes `text` to a hidden temporary file beside `path`, then renames it over `path`.
func writeAtomically(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
    try Data(text.utf8).write(to: temporary)
    if rename(temporary.path, path) != 0 {
        throw ReloadExpectationFailure("could not rename \(temporary.path) to \(path): errno \(errno)")
    }
}

/// The version a pipeline file's text gets.
func pipelineVersion(of yaml: String) -> String {
    PipelineLoader.version(of: yaml)
}

/// The resident set size of this process, in KiB, from /proc/self/status.
func residentKilobytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}
