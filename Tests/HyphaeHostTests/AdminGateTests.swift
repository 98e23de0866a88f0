import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeTesting
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

    func testEveryAdminRequestIsAuditLoggedWithoutTheKeyOrTheBody() async throws {
        let logs = LogRecorder()
        try await withHost(logs: logs, configure: { $0.adminKey = Self.key }) { host in
            let watcher = try await host.connect("/ws/ticker")
            try await watcher.subscribeSucceeding("bystander", params: ["rate": 100])
            let allowed = try await HTTPReply.request(host: "127.0.0.1", port: host.port, method: "GET", path: "/admin/pipelines", headers: ["Authorization": "Bearer \(Self.key)"])
            XCTAssertEqual(allowed.status, 200)
            let wrong = try await HTTPReply.request(host: "127.0.0.1", port: host.port, method: "GET", path: "/admin/pipelines", headers: ["Authorization": "Bearer not-the-key"])
            XCTAssertEqual(wrong.status, 401)
            let body = "name: secret-body-text"
            let invalid = try await HTTPReply.request(host: "127.0.0.1", port: host.port, method: "PUT", path: "/admin/pipelines/x", headers: ["Authorization": "Bearer \(Self.key)"], body: body)
            XCTAssertEqual(invalid.status, 422, invalid.body)
            let audit = logs.entries(withEvent: "admin_audit")
            XCTAssertEqual(audit.map { "\($0.metadata["method"] ?? "") \($0.metadata["path"] ?? "") \($0.metadata["status"] ?? "")" },
                           ["GET /admin/pipelines 200", "GET /admin/pipelines 401", "PUT /admin/pipelines/x 422"])
            XCTAssertTrue(audit.allSatisfy { $0.metadata["remote"] == "127.0.0.1" }, "\(audit)")
            let everything = logs.recorded.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
            XCTAssertFalse(everything.contains(Self.key), "the key is never logged")
            XCTAssertFalse(everything.contains("not-the-key"), "nor a wrong one")
            XCTAssertFalse(everything.contains("secret-body-text"), "nor a body")
            let frames = try await watcher.frames("bystander", count: 2)
            XCTAssertEqual(frames.count, 2)
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
