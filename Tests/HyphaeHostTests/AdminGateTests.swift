import HyphaeCore
import HyphaeHost
import XCTest

/// The admin API's key is checked from the request head, before any of the body is
/// read, and an address that keeps guessing is locked out for a while.
final class AdminGateTests: XCTestCase {
    private static let key = "gate-admin-key"

    private func request(_ method: String, _ path: String, key: String?, contentLength: Int = 0) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if let key { head += "Authorization: Bearer \(key)\r\n" }
        if contentLength > 0 { head += "Content-Length: \(contentLength)\r\n" }
        return Array((head + "\r\n").utf8)
    }

    func testAWrongKeyIsAnsweredBeforeTheBodyIsSent() async throws {
        try await withHost(configure: { $0.adminKey = Self.key }) { host in
            let client = try await RawWebSocket.connectTCP(port: host.port)
            // Announces 3 MB and sends none of it: the answer must not wait for the body.
            try await client.write(request("PUT", "/admin/pipelines/x", key: "wrong", contentLength: 3_000_000))
            let closed = await client.isClosed(within: .seconds(5))
            XCTAssertTrue(closed, "the connection is closed after the refusal")
            XCTAssertTrue(client.receivedText.hasPrefix("HTTP/1.1 401"), client.receivedText)
        }
    }

    func testAnAddressThatKeepsGuessingIsLockedOut() async throws {
        try await withHost(configure: { $0.adminKey = Self.key }) { host in
            for _ in 0..<20 {
                let reply = try await HTTPReply.get(host: "127.0.0.1", port: host.port, path: "/admin/pipelines")
                XCTAssertEqual(reply.status, 401)
            }
            let client = try await RawWebSocket.connectTCP(port: host.port)
            try await client.write(request("GET", "/admin/pipelines", key: Self.key))
            _ = await client.isClosed(within: .seconds(5))
            XCTAssertTrue(client.receivedText.hasPrefix("HTTP/1.1 429"), "even the right key waits out the lock-out: \(client.receivedText)")
            XCTAssertTrue(client.receivedText.contains("try again in"), client.receivedText)
            // The public endpoints are not locked.
            let health = try await host.get("/health")
            XCTAssertEqual(health.status, 200)
        }
    }

    func testTheRightKeyIsServed() async throws {
        try await withHost(configure: { $0.adminKey = Self.key }) { host in
            let client = try await RawWebSocket.connectTCP(port: host.port)
            try await client.write(Array("GET /admin/pipelines HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(Self.key)\r\nConnection: close\r\n\r\n".utf8))
            _ = await client.isClosed(within: .seconds(5))
            XCTAssertTrue(client.receivedText.hasPrefix("HTTP/1.1 200"), client.receivedText)
        }
    }

    func testTheKeyCanComeFromAFile() throws {
        let folder = try TemporaryFolderForKeys()
        let path = try folder.write("  secret-from-file  \nignored\n")
        XCTAssertEqual(try HostConfiguration.readKey(fromFile: path), "secret-from-file")
        let empty = try folder.write("\n")
        XCTAssertThrowsError(try HostConfiguration.readKey(fromFile: empty))
        XCTAssertThrowsError(try HostConfiguration.readKey(fromFile: path + ".missing"))
    }
}

/// A file in a temporary folder, removed with it.
private struct TemporaryFolderForKeys {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("hyphae-keys-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func write(_ text: String) throws -> String {
        let path = url.appendingPathComponent(UUID().uuidString).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
