import HyphaeCore
import NIOCore
import NIOHTTP1

/// Answers the plain HTTP requests (everything but WebSocket upgrades): collects
/// each request, hands it to the routes, writes the response. Until the connection
/// is upgraded it also keeps its clocks: a new connection has `handshake_timeout` to
/// send a complete request head (a client that never finishes one holds nothing for
/// long), and a keep-alive connection may idle `http_idle_timeout` between requests.
final class HTTPRouteHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maximumBodySize = 4 * 1024 * 1024

    private let routes: HTTPRoutes
    private let limits: HostLimits
    private let adminGate: AdminGate
    private let originPolicy: RequestOriginPolicy
    private let role: ListenerRole
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    /// Closes the connection when no request head arrives in time.
    private var deadline: Scheduled<Void>?

    init(routes: HTTPRoutes, limits: HostLimits, adminGate: AdminGate, originPolicy: RequestOriginPolicy, role: ListenerRole) {
        self.routes = routes
        self.limits = limits
        self.adminGate = adminGate
        self.originPolicy = originPolicy
        self.role = role
    }

    func handlerAdded(context: ChannelHandlerContext) {
        closeUnlessARequestComes(within: limits.handshakeTimeout, context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    private func closeUnlessARequestComes(within seconds: Double, context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: .interval(seconds: seconds)) {
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            deadline?.cancel()
            deadline = nil
            if let refusal = originPolicy.refusal(of: requestHead) {
                var closing = requestHead
                closing.headers.replaceOrAdd(name: "Connection", value: "close")
                write(.problem(.forbidden, refusal), for: closing, context: context)
                return
            }
            if let refusal = role.refusal(of: requestHead.uri) {
                if Self.isAdminPath(requestHead.uri) {
                    routes.host.logger.notice("admin request on the public port", metadata: [
                        "event": "admin_audit", "method": "\(requestHead.method.rawValue)", "path": "\(requestHead.uri.prefix(utf8Bytes: 256))",
                        "status": "\(refusal.status.code)", "remote": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")",
                    ])
                }
                refuseFromTheHead(requestHead, with: refusal, context: context)
                return
            }
            if Self.isAdminPath(requestHead.uri), refuseAdminRequest(requestHead, context: context) { return }
            head = requestHead
            // An idle keep-alive connection keeps no body buffer.
            body = []
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
                    query: parts.count > 1 ? String(parts[1]) : nil, headers: head.headers, body: body,
                    remoteAddress: context.channel.remoteAddress?.ipAddress
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

    static func isAdminPath(_ uri: String) -> Bool {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return path == "/admin" || path.hasPrefix("/admin/")
    }

    /// Answers an admin request the gate does not let through from its head alone, and
    /// closes the connection, so that not one byte of its body is read. Returns whether
    /// it did.
    private func refuseAdminRequest(_ requestHead: HTTPRequestHead, context: ChannelHandlerContext) -> Bool {
        let address = context.channel.remoteAddress?.ipAddress
        let now = Double(NIODeadline.now().uptimeNanoseconds) / 1e9
        let verdict = adminGate.verdict(for: requestHead.headers, from: address, now: now)
        guard let refusal = AdminGate.refusal(verdict) else { return false }
        routes.host.logger.notice("admin request refused", metadata: [
            "event": "admin_audit", "method": "\(requestHead.method.rawValue)", "path": "\(requestHead.uri.prefix(utf8Bytes: 256))",
            "status": "\(refusal.status.code)", "remote": "\(address ?? "unknown")",
        ])
        refuseFromTheHead(requestHead, with: refusal, context: context)
        return true
    }

    /// Answers `refusal` and closes the connection without reading the request's body.
    private func refuseFromTheHead(_ requestHead: HTTPRequestHead, with refusal: HTTPResponse, context: ChannelHandlerContext) {
        var closing = requestHead
        closing.headers.replaceOrAdd(name: "Connection", value: "close")
        write(refusal, for: closing, context: context)
        context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
    }

    private func write(_ response: HTTPResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        for header in response.headers { headers.add(name: header.name, value: header.value) }
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
        body = []
        if keepAlive {
            closeUnlessARequestComes(within: limits.httpIdleTimeout, context: context)
        } else {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
