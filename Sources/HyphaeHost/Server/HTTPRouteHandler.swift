import HyphaeCore
import NIOCore
import NIOHTTP1

/// An HTTP response, built by a route.
struct HTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]

    static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        var writer = JSONWriter()
        writer.write(value)
        writer.writeRaw("\n")
        return HTTPResponse(status: status, contentType: "application/json", body: writer.bytes)
    }

    static func text(_ text: String, status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, contentType: contentType, body: Array(text.utf8))
    }

    static func problem(_ status: HTTPResponseStatus, _ message: String) -> HTTPResponse {
        json(["error": .string(message), "status": .int(Int(status.code))], status: status)
    }
}

/// A request as the routes see it: method, path, query and body.
struct HTTPRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var query: String?
    var headers: HTTPHeaders
    var body: [UInt8]
}

/// Answers the plain HTTP requests (everything but WebSocket upgrades): collects
/// each request, hands it to the routes, writes the response.
final class HTTPRouteHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maximumBodySize = 4 * 1024 * 1024

    private let routes: HTTPRoutes
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false

    init(routes: HTTPRoutes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.removeAll(keepingCapacity: true)
            bodyTooLarge = false
        case .body(var chunk):
            if body.count + chunk.readableBytes > Self.maximumBodySize {
                bodyTooLarge = true
            } else if let bytes = chunk.readBytes(length: chunk.readableBytes) {
                body += bytes
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let response: HTTPResponse
            if bodyTooLarge {
                response = .problem(.payloadTooLarge, "the request body is larger than \(Self.maximumBodySize) bytes")
            } else {
                let parts = head.uri.split(separator: "?", maxSplits: 1)
                let request = HTTPRequest(
                    method: head.method, path: parts.first.map(String.init) ?? "/",
                    query: parts.count > 1 ? String(parts[1]) : nil, headers: head.headers, body: body
                )
                let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
                let routes = self.routes
                promise.completeWithTask { await routes.respond(to: request) }
                promise.futureResult.assumeIsolated().whenSuccess { [self] response in
                    write(response, for: head, context: context)
                }
                return
            }
            write(response, for: head, context: context)
        }
    }

    private func write(_ response: HTTPResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        let keepAlive = request.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let responseHead = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if request.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// The host's HTTP endpoints: health, readiness, metrics, the pipeline list and the admin API.
struct HTTPRoutes: Sendable {
    let host: HostContext
    let admin: AdminAPI

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        if request.path == "/admin" || request.path.hasPrefix("/admin/") {
            return await admin.respond(to: request)
        }
        switch (request.method, request.path) {
        case (.GET, "/health"), (.HEAD, "/health"):
            return .json(["status": "ok"])
        case (.GET, "/ready"), (.HEAD, "/ready"):
            return host.isShuttingDown
                ? .json(["status": "shutting_down"], status: .serviceUnavailable)
                : .json(["status": "ready", "pipelines": .int(host.pipelines.count)])
        case (.GET, "/metrics"):
            return .text(host.metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        case (.GET, "/pipelines"):
            return .json(pipelinesDocument())
        case (_, "/health"), (_, "/ready"), (_, "/metrics"), (_, "/pipelines"):
            return .problem(.methodNotAllowed, "\(request.path) answers GET only")
        default:
            if host.endpoint(forPath: request.path) != nil {
                return .problem(HTTPResponseStatus(statusCode: 426, reasonPhrase: "Upgrade Required"), "\(request.path) is a WebSocket endpoint; connect with a WebSocket client")
            }
            return .problem(.notFound, "nothing is served at \(request.path); see GET /pipelines for the WebSocket paths")
        }
    }

    func pipelinesDocument() -> JSONValue {
        let instances = host.instances.summaries()
        return .object(["pipelines": .array(host.pipelines.map { PipelineStatus.json(for: $0, host: host, instances: instances) })])
    }
}

/// A pipeline as `GET /pipelines` and the admin API show it.
enum PipelineStatus {
    static func json(for definition: PipelineDefinition, host: HostContext, instances: [InstanceManager.InstanceSummary]) -> JSONValue {
        let metrics = host.metrics.pipeline(definition.name)
        let running = instances.filter { $0.pipeline == definition.name }
        var params = JSONObject()
        for param in definition.params { params.append(param.name, param.descriptionJSON) }
        return .object([
            "name": .string(definition.name),
            "description": .string(definition.summary),
            "file": .string(definition.file),
            "version": .string(definition.version),
            "paths": .array(definition.endpointPaths.map(JSONValue.string)),
            "sharing": .string(definition.sharesInstances ? "shared" : "per_subscriber"),
            "finite": .bool(definition.isFinite),
            "params": .object(params),
            "instances": .array(running.map { summary in
                .object([
                    "id": .string(summary.id), "version": .string(summary.version),
                    "params": .object(summary.params), "subscribers": .int(summary.subscribers),
                ])
            }),
            "subscribers": .int(metrics.subscribers.current),
            "frames_emitted": .int(metrics.framesEmitted.current),
            "frames_sent": .int(metrics.framesSent.current),
            "frames_dropped": .int(metrics.totalDropped),
        ])
    }
}
