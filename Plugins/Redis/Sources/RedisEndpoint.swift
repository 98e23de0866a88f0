/// Where a Redis server is and how to reach it, from a `redis://` or `rediss://` URL:
/// `redis://[[user]:password@]host[:port][/db]`.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// `rediss://`: TLS, checked against the system's trusted certificates or `caFile`.
    public var usesTLS: Bool
    public var user: String?
    public var password: String?
    public var database: Int

    public static let defaultPort = 6379

    public init(host: String, port: Int = RedisEndpoint.defaultPort, usesTLS: Bool = false, user: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
        self.user = user
        self.password = password
        self.database = database
    }

    /// Reads a URL; the error says what to write instead.
    public init(url: String) throws(RedisURLError) {
        let scheme: Substring
        let rest: Substring
        if url.hasPrefix("redis://") {
            scheme = "redis"; rest = url.dropFirst(8)
        } else if url.hasPrefix("rediss://") {
            scheme = "rediss"; rest = url.dropFirst(9)
        } else {
            throw RedisURLError("'\(Self.redacted(url))' is not a Redis URL; write redis://host:port or rediss://host:port (TLS)")
        }
        usesTLS = scheme == "rediss"
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        user = nil
        password = nil
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let name = credentials[..<colon]
                user = name.isEmpty ? nil : String(name)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        var hostPart = authority
        port = Self.defaultPort
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw RedisURLError("'\(Self.redacted(url))' has an IPv6 address without its closing ]") }
            let portPart = hostPart[hostPart.index(after: close)...]
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            if !portPart.isEmpty {
                guard portPart.hasPrefix(":") else { throw RedisURLError("'\(Self.redacted(url))': expected :port after the IPv6 address") }
                port = try Self.port(portPart.dropFirst(), url: url)
            }
        } else if let colon = hostPart.lastIndex(of: ":") {
            port = try Self.port(hostPart[hostPart.index(after: colon)...], url: url)
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw RedisURLError("'\(Self.redacted(url))' names no host; write e.g. redis://127.0.0.1:6379") }
        host = String(hostPart)
        database = 0
        if !path.isEmpty {
            guard let number = Int(path), (0...1_000_000).contains(number) else {
                throw RedisURLError("'\(Self.redacted(url))': the path must be a database number such as /0, found /\(path)")
            }
            database = number
        }
    }

    private static func port(_ text: Substring, url: String) throws(RedisURLError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw RedisURLError("'\(redacted(url))': the port must be a number from 1 to 65535, found '\(text)'")
        }
        return port
    }

    /// The URL with any password replaced by `***`, for messages and logs.
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else { return url }
        let credentials = url[schemeEnd.upperBound..<at]
        let user = credentials.firstIndex(of: ":").map { credentials[..<$0] } ?? ""
        return url[..<schemeEnd.upperBound] + user + ":***" + url[at...]
    }

    /// The endpoint as a URL without the password: what logs and metrics show.
    public var description: String {
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "rediss" : "redis")://\(hostText):\(port)" + (database == 0 ? "" : "/\(database)")
    }
}

public struct RedisURLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
