import HyphaeCore
import NIOCore
import NIOHTTP1

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
