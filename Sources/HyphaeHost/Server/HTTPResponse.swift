import HyphaeCore
import NIOHTTP1

/// An HTTP response, built by a route.
struct HTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: [UInt8]

    static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        var writer = JSONWriter()
        writer.write(value)
        writer.writeRaw("\n")
        return HTTPResponse(status: status, contentType: "application/json", body: writer.bytes)
    }

    static func text(_ text: String, status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, contentType: contentType, body: Array(text.utf8))
    }

    static func problem(_ status: HTTPResponseStatus, _ message: String) -> HTTPResponse {
        json(["error": .string(message), "status": .int(Int(status.code))], status: status)
    }
}
