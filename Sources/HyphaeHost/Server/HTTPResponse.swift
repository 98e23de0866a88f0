import HyphaeConsole
import HyphaeCore
import NIOHTTP1

/// An HTTP response, built by a route.
struct HTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]
    /// Headers beyond Content-Type, Content-Length and Connection.
    var headers: [(name: String, value: String)] = []

    static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        var writer = JSONWriter()
        writer.write(value)
        writer.writeRaw("\n")
        return HTTPResponse(status: status, contentType: "application/json", body: writer.bytes)
    }

    static func text(_ text: String, status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, contentType: contentType, body: Array(text.utf8))
    }

    /// A file of the web console: never sniffed, never framed, never cached stale
    /// (a new binary serves new files), and the page held to its policy.
    static func consoleFile(_ file: ConsoleFiles.File) -> HTTPResponse {
        HTTPResponse(status: .ok, contentType: file.contentType, body: file.bytes, headers: [
            ("Content-Security-Policy", ConsoleFiles.contentSecurityPolicy),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "DENY"),
            ("Referrer-Policy", "no-referrer"),
            ("Cache-Control", "no-cache"),
        ])
    }

    static func problem(_ status: HTTPResponseStatus, _ message: String) -> HTTPResponse {
        json(["error": .string(message), "status": .int(Int(status.code))], status: status)
    }
}
