import HyphaeSockets
import NIOCore

/// A listening socket of the server, whichever way its connections reach the loops.
enum ServerListener: Sendable {
    /// NIO's `ServerBootstrap` accepts on a loop: TLS listeners, and plain ones with
    /// `direct_writes` off.
    case bootstrap(Channel)
    /// A thread of the host's own accepts, so that each connection's descriptor is known
    /// and its frames can be written to the socket itself (`ConnectionOutput`).
    case acceptor(SocketAcceptor)

    var port: Int? {
        switch self {
        case .bootstrap(let channel): channel.localAddress?.port
        case .acceptor(let acceptor): acceptor.port
        }
    }

    /// Stops accepting; open connections are not touched.
    func close() async {
        switch self {
        case .bootstrap(let channel): try? await channel.close().get()
        case .acceptor(let acceptor): acceptor.stop()
        }
    }

    func waitUntilClosed() async throws {
        switch self {
        case .bootstrap(let channel): try await channel.closeFuture.get()
        case .acceptor(let acceptor): await acceptor.waitUntilStopped()
        }
    }
}
