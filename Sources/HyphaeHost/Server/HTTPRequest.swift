import NIOHTTP1

/// A request as the routes see it: method, path, query and body.
struct HTTPRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var query: String?
    var headers: HTTPHeaders
    var body: [UInt8]
    /// The client's address, for the admin API's audit log.
    var remoteAddress: String?
}
