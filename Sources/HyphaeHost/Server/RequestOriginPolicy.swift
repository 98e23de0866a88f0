import HyphaeCore
import NIOHTTP1

/// Which web pages may drive this host, decided from a request's head (Docs/SECURITY.md):
///
/// - With `allowed_origins` set, a request that carries an `Origin` not in the list
///   (what a browser sends for a page of another site) gets 403, upgrades included;
///   clients that send no `Origin` (programs, not browsers) are unaffected.
/// - In dev mode, the `Host` header must name this machine by a loopback name or an IP
///   address: a page of another site that points its own domain at 127.0.0.1 (DNS
///   rebinding) is refused.
struct RequestOriginPolicy: Sendable {
    let allowedOrigins: Set<String>
    let checksHostName: Bool

    init(configuration: HostConfiguration) {
        allowedOrigins = Set(configuration.allowedOrigins.map(Self.normalized))
        checksHostName = configuration.environment == .dev
    }

    /// Why the request is refused, or nil when it may go on.
    func refusal(of head: HTTPRequestHead) -> String? {
        if !allowedOrigins.isEmpty, let origin = head.headers.first(name: "Origin"), !allowedOrigins.contains(Self.normalized(origin)) {
            return "requests from the origin '\(origin.prefix(utf8Bytes: 200))' are not allowed; add it to allowed_origins"
        }
        if checksHostName, let host = head.headers.first(name: "Host"), !Self.isLocalOrAddress(host) {
            return "a dev host answers only to localhost, 127.0.0.1, [::1] or an IP address, not '\(host.prefix(utf8Bytes: 200))'; run with MFN_ENV=staging or prod to serve other names"
        }
        return nil
    }

    private static func normalized(_ origin: String) -> String {
        var text = origin.lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// A Host header that names a loopback name or an IP literal, with or without a port.
    static func isLocalOrAddress(_ header: String) -> Bool {
        var name = Substring(header.lowercased())
        if name.hasPrefix("[") {
            // [v6] or [v6]:port
            guard let close = name.firstIndex(of: "]") else { return false }
            name = name[name.index(after: name.startIndex)..<close]
            return name.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        if let colon = name.lastIndex(of: ":") { name = name[..<colon] }
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in UInt8(part) != nil }
    }
}
