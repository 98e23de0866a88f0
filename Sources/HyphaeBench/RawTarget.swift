import Foundation

/// A server that streams without Hyphae's protocol (nginx with nchan, or any other
/// fan-out): once the WebSocket upgrade succeeds, every text frame is a JSON object
/// with a `sequence` integer and a `timestamp` in milliseconds since the epoch, and
/// nothing is sent to it but pongs and the closing handshake.
public struct RawTarget: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Path and query, as sent in the upgrade request.
    public var path: String
    public var usesTLS: Bool

    /// Reads a `ws://` or `wss://` URL; the error says what is wrong with it.
    public init(url text: String) throws(BenchError) {
        let hint = "--raw takes a WebSocket URL such as ws://127.0.0.1:8080/sub"
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw BenchError("'\(text)' is not a URL; \(hint)")
        }
        guard scheme == "ws" || scheme == "wss" else {
            throw BenchError("'\(text)' has the scheme '\(scheme)'; \(hint) (or wss://)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw BenchError("'\(text)' names no host; \(hint)")
        }
        let port = components.port ?? (scheme == "wss" ? 443 : 80)
        guard (1...65535).contains(port) else {
            throw BenchError("'\(text)' has the port \(port), outside 1 to 65535")
        }
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if let query = components.percentEncodedQuery { path += "?" + query }
        guard !path.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) else {
            throw BenchError("'\(text)' has spaces or control characters in its path")
        }
        self.host = host
        self.port = port
        self.path = path
        usesTLS = scheme == "wss"
    }

    public var url: String { "\(usesTLS ? "wss" : "ws")://\(host):\(port)\(path)" }
}
