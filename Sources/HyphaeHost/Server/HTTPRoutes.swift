import HyphaeConsole
import HyphaeCore
import NIOHTTP1

/// The host's HTTP endpoints: health, readiness, metrics, the pipeline list, the admin API,
/// and the web console with hyphae.js (Docs/CONSOLE.md).
struct HTTPRoutes: Sendable {
    let host: HostContext
    let admin: AdminAPI

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        if HTTPRouteHandler.isAdminPath(request.path) {
            return await admin.respond(to: request)
        }
        switch (request.method, request.path) {
        case (.GET, "/health"), (.HEAD, "/health"):
            return .json(["status": "ok"])
        case (.GET, "/ready"), (.HEAD, "/ready"):
            if host.isDraining { return .json(["status": "shutting_down"], status: .serviceUnavailable) }
            return readiness()
        case (.GET, "/metrics"):
            if let refusal = statusRefusal(request) { return refusal }
            return .text(host.metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        case (.GET, "/pipelines"):
            if let refusal = statusRefusal(request) { return refusal }
            return .json(pipelinesDocument())
        case (_, "/health"), (_, "/ready"), (_, "/metrics"), (_, "/pipelines"):
            return .problem(.methodNotAllowed, "\(request.path) answers GET only")
        default:
            if host.endpoint(forPath: request.path) != nil {
                return .problem(HTTPResponseStatus(statusCode: 426, reasonPhrase: "Upgrade Required"), "\(request.path) is a WebSocket endpoint; connect with a WebSocket client")
            }
            if let file = ConsoleFiles.file(at: request.path) {
                guard request.method == .GET || request.method == .HEAD else {
                    return .problem(.methodNotAllowed, "\(request.path) answers GET only")
                }
                return .consoleFile(file)
            }
            return .problem(.notFound, "nothing is served at \(request.path); see GET /pipelines for the WebSocket paths")
        }
    }

    /// Ready, or degraded when a service some running stage depends on is down. A
    /// degraded host still answers 200: it keeps its subscribers and serves what it
    /// has, and every host of a relay loses the same service at once, so turning them
    /// all away would help nobody.
    private func readiness() -> HTTPResponse {
        let down = host.metrics.dependencies.downDependencies
        guard !down.isEmpty else {
            return .json(["status": "ready", "pipelines": .int(host.pipelines.count)])
        }
        let listed: [JSONValue] = down.map { item in
            .object(["pipeline": .string(item.key.pipeline), "dependency": .string(item.key.dependency), "reason": item.reason.map(JSONValue.string) ?? .null])
        }
        return .json(["status": "degraded", "pipelines": .int(host.pipelines.count), "degraded": .array(listed)])
    }

    /// With `status_requires_key`, `/pipelines` and `/metrics` answer only a request that
    /// carries the admin key or a client API key as `Authorization: Bearer KEY`.
    private func statusRefusal(_ request: HTTPRequest) -> HTTPResponse? {
        let configuration = host.configuration
        guard configuration.statusRequiresKey else { return nil }
        let presented = request.headers.first(name: "Authorization").flatMap { value -> [UInt8]? in
            value.hasPrefix("Bearer ") ? Array(value.dropFirst(7).utf8) : nil
        }
        let keys = configuration.apiKeys.map(\.secret) + (configuration.adminKey.map { [$0] } ?? [])
        if let presented, keys.contains(where: { Authenticator.constantTimeEqual(presented, Array($0.utf8)) }) { return nil }
        return .problem(.unauthorized, "\(request.path) requires a key on this host: send 'Authorization: Bearer <key>' with a client or the admin key")
    }

    func pipelinesDocument() -> JSONValue {
        let instances = host.instances.summaries()
        return .object(["pipelines": .array(host.pipelines.map { PipelineStatus.json(for: $0, host: host, instances: instances) })])
    }
}
