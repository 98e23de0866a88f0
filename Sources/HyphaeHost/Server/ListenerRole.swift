import HyphaeCore
import HyphaeSockets
/// What one listening socket serves. A host has one listener for everything unless it
/// is given an admin port, which splits the admin API off onto a listener of its own
/// (on a private address, say) and takes it off the public one.
enum ListenerRole: Sendable {
    /// The only listener: streams, status endpoints and the admin API.
    case everything
    /// The public port of a host with an admin listener: everything but the admin API.
    case publicOnly
    /// The admin listener: the admin API and nothing else, no WebSocket upgrades.
    case adminOnly

    var servesStreams: Bool { self != .adminOnly }

    /// The answer to a request for `uri` that this listener does not serve, decided from
    /// the request head (so that no body is read), or nil when it serves it.
    func refusal(of uri: String) -> HTTPResponse? {
        let isAdmin = HTTPRouteHandler.isAdminPath(uri)
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        switch self {
        case .everything: return nil
        // The same 404 as for any unknown path: the public port does not tell that an admin API exists.
        case .publicOnly where isAdmin: return .problem(.notFound, "nothing is served at \(path.prefix(utf8Bytes: 256)); see GET /pipelines for the WebSocket paths")
        case .adminOnly where !isAdmin: return .problem(.notFound, "this is the admin listener: it serves /admin/ only; streams and status are on the public port")
        default: return nil
        }
    }
}

/// A listening socket that could not be opened, with the setting to change.
public struct ListenError: Error, CustomStringConvertible {
    let role: ListenerRole
    let address: String
    let port: Int
    let underlying: any Error

    public var description: String {
        let (what, setting) = role == .adminOnly
            ? ("the admin API", "--admin-host/--admin-port (admin_host/admin_port)")
            : ("clients", "--host/--port (host/port)")
        let reason = (underlying as? SocketAcceptorError)?.reason ?? "\(underlying)"
        return "cannot listen for \(what) on \(address):\(port): \(reason); choose a free port and an address of this machine with \(setting)"
    }
}
