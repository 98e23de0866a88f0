import Logging
import NIOCore

/// The first handler of every accepted connection: counts it against the host's
/// connection limits (`max_connections`, `max_connections_per_address`) and, past
/// one, answers `503 Service Unavailable` with a `Retry-After` and closes, before any
/// byte of the request is read. Clients from `trusted_addresses` (loopback unless set)
/// count only against the total: behind a reverse proxy every client has its address.
final class ConnectionLimiter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connections: ConnectionCounts
    private let trusted: [AddressRange]
    private let logger: Logger
    private var countedAddress: String??
    private var isRefused = false

    init(connections: ConnectionCounts, trusted: [AddressRange], logger: Logger) {
        self.connections = connections
        self.trusted = trusted
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let address = Self.limitedAddress(of: context.channel.remoteAddress, trusted: trusted)
        if let refusal = connections.admit(address: address) {
            isRefused = true
            logger.notice("connection refused", metadata: [
                "event": "connection_refused", "reason": "\(refusal.reason)",
                "remote": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")",
            ])
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

    /// The address a connection counts against, or nil for a trusted address (and the unknown).
    static func limitedAddress(of address: SocketAddress?, trusted: [AddressRange]) -> String? {
        guard let ip = address?.ipAddress else { return nil }
        return trusted.contains { $0.contains(ip: ip) } ? nil : ip
    }
}
