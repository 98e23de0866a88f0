import NIOCore

/// The first handler of every accepted connection: counts it against the host's
/// connection limits (`max_connections`, `max_connections_per_address`) and, past
/// one, answers `503 Service Unavailable` with a `Retry-After` and closes, before any
/// byte of the request is read. Loopback clients count only against the total: behind
/// a local reverse proxy every client is 127.0.0.1.
final class ConnectionLimiter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connections: ConnectionCounts
    private var countedAddress: String??
    private var isRefused = false

    init(connections: ConnectionCounts) {
        self.connections = connections
    }

    func channelActive(context: ChannelHandlerContext) {
        let address = Self.limitedAddress(of: context.channel.remoteAddress)
        if let refusal = connections.admit(address: address) {
            isRefused = true
            let body = "\(refusal)\n"
            let response = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        countedAddress = .some(address)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isRefused else { return }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .some(let address) = countedAddress {
            connections.release(address: address)
            countedAddress = nil
        }
        guard !isRefused else { return }
        context.fireChannelInactive()
    }

    /// The address a connection counts against, or nil for loopback (and the unknown).
    static func limitedAddress(of address: SocketAddress?) -> String? {
        guard let address, let ip = address.ipAddress else { return nil }
        switch address {
        case .v4 where ip.hasPrefix("127."): return nil
        case .v6 where ip == "::1" || ip.hasPrefix("::ffff:127."): return nil
        default: return ip
        }
    }
}
