import Foundation
import HyphaeClient
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// An HTTP/1.1 response read off a raw TCP connection: enough to test the host's
/// plain endpoints without depending on an HTTP client library.
struct HTTPReply: Sendable {
    var status: Int
    var headers: [String: String]
    var body: String

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Sends `GET path` with `Connection: close` and reads until the server closes;
    /// over TLS (https://) with `tls`.
    static func get(host: String, port: Int, path: String, method: String = "GET", tls: ClientTLS? = nil) async throws -> HTTPReply {
        try await request(host: host, port: port, method: method, path: path, tls: tls)
    }

    /// Sends one request with `headers` and `body` (and `Connection: close`), and reads
    /// until the server closes; over TLS with `tls`.
    static func request(
        host: String, port: Int, method: String, path: String, headers: [String: String] = [:], body: String = "", tls: ClientTLS? = nil
    ) async throws -> HTTPReply {
        let collector = ResponseCollector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeHandler(host: host)) }
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: host, port: port).get()
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if !body.isEmpty { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + body
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        try await channel.closeFuture.get()
        return try parse(collector.received)
    }

    private static func parse(_ raw: String) throws -> HTTPReply {
        guard let split = raw.range(of: "\r\n\r\n") else { throw Failure(description: "no complete HTTP head in: \(raw)") }
        let headLines = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = headLines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(description: "no HTTP status line in: \(raw)")
        }
        var headers: [String: String] = [:]
        for line in headLines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPReply(status: status, headers: headers, body: String(raw[split.upperBound...]))
    }
}

/// Gathers everything a connection receives.
private final class ResponseCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let storage = Mutex("")

    var received: String { storage.withLock { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        storage.withLock { $0 += String(buffer: buffer) }
    }
}
