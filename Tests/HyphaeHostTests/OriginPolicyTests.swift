import HyphaeClient
@testable import HyphaeHost
import HyphaeTesting
import XCTest

/// Docs/SECURITY.md, Origins: pages of other sites cannot drive the host.
final class OriginPolicyTests: XCTestCase {
    private func upgrade(_ host: RunningHost, origin: String?, hostHeader: String = "127.0.0.1") async throws -> String {
        let client = try await RawWebSocket.connectTCP(port: host.port)
        var head = "GET /ws HTTP/1.1\r\nHost: \(hostHeader)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let origin { head += "Origin: \(origin)\r\n" }
        try await client.write(Array((head + "\r\n").utf8))
        for _ in 0..<200 where !client.receivedText.contains("\r\n\r\n") { try await Task.sleep(for: .milliseconds(10)) }
        let text = client.receivedText
        await client.disconnect()
        return text
    }

    /// A client subscribed to an endless stream, which must keep receiving.
    private func bystander(on host: RunningHost) async throws -> ProtocolClient {
        let client = try await host.connect("/ws/ticker")
        try await client.subscribeSucceeding("bystander", params: ["rate": 100])
        return client
    }

    func testUpgradesFromOriginsNotAllowedGet403() async throws {
        try await withHost(configure: { $0.allowedOrigins = ["https://dashboard.example.com"] }) { host in
            let watcher = try await bystander(on: host)
            let refused = try await upgrade(host, origin: "https://evil.example.net")
            XCTAssertTrue(refused.hasPrefix("HTTP/1.1 403"), refused)
            let page = try await HTTPReply.request(host: "127.0.0.1", port: host.port, method: "GET", path: "/pipelines", headers: ["Origin": "https://evil.example.net"])
            XCTAssertEqual(page.status, 403, "HTTP requests from other origins too: \(page.body)")
            let allowed = try await upgrade(host, origin: "https://dashboard.example.com/")
            XCTAssertTrue(allowed.hasPrefix("HTTP/1.1 101"), allowed)
            let program = try await upgrade(host, origin: nil)
            XCTAssertTrue(program.hasPrefix("HTTP/1.1 101"), "a client without Origin is a program, not a page: \(program)")
            let frames = try await watcher.frames("bystander", count: 2)
            XCTAssertEqual(frames.count, 2)
        }
    }

    func testADevHostRefusesOtherHostNames() async throws {
        try await withHost { host in
            let watcher = try await bystander(on: host)
            let rebinding = try await upgrade(host, origin: "http://rebind.example.net", hostHeader: "rebind.example.net:8080")
            XCTAssertTrue(rebinding.hasPrefix("HTTP/1.1 403"), rebinding)
            XCTAssertTrue(rebinding.contains("dev host answers only to localhost"), rebinding)
            for name in ["localhost:8080", "127.0.0.1", "[::1]:9"] {
                let local = try await upgrade(host, origin: nil, hostHeader: name)
                XCTAssertTrue(local.hasPrefix("HTTP/1.1 101"), "\(name): \(local)")
            }
            let frames = try await watcher.frames("bystander", count: 2)
            XCTAssertEqual(frames.count, 2)
        }
    }

    func testAStagingHostServesAnyName() async throws {
        try await withHost(configure: { $0.environment = .staging; $0.apiKeyRequired = false }) { host in
            let named = try await upgrade(host, origin: nil, hostHeader: "streams.example.com")
            XCTAssertTrue(named.hasPrefix("HTTP/1.1 101"), named)
        }
    }

    func testHostNamesThatCountAsLocal() {
        for name in ["localhost", "LOCALHOST:80", "app.localhost", "127.0.0.1:8080", "10.1.2.3", "[::1]", "[fe80::1]:443"] {
            XCTAssertTrue(RequestOriginPolicy.isLocalOrAddress(name), name)
        }
        for name in ["example.com", "127.0.0.1.nip.io", "localhost.example.com", "1.2.3", "[::1", "999.1.1.1"] {
            XCTAssertFalse(RequestOriginPolicy.isLocalOrAddress(name), name)
        }
    }
}

/// Docs/SECURITY.md, What is published.
final class StatusExposureTests: XCTestCase {
    private func get(_ host: RunningHost, _ path: String, key: String?) async throws -> String {
        let client = try await RawWebSocket.connectTCP(port: host.port)
        var head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let key { head += "Authorization: Bearer \(key)\r\n" }
        try await client.write(Array((head + "\r\n").utf8))
        _ = await client.isClosed(within: .seconds(5))
        return client.receivedText
    }

    func testThePublicListingNamesFilesWithoutTheirFolder() async throws {
        try await withHost { host in
            let listing = try await host.get("/pipelines")
            XCTAssertTrue(listing.body.contains("\"file\":\"ticker.yaml\""), listing.body)
            XCTAssertFalse(listing.body.contains("/tmp"), "no server path is published: \(listing.body)")
        }
    }

    func testStatusCanRequireAKey() async throws {
        try await withHost(configure: {
            $0.statusRequiresKey = true
            $0.apiKeys = [APIKey(secret: "client-key")]
            $0.adminKey = "admin-key"
        }) { host in
            for path in ["/pipelines", "/metrics"] {
                let anonymous = try await get(host, path, key: nil)
                XCTAssertTrue(anonymous.hasPrefix("HTTP/1.1 401"), "\(path): \(anonymous)")
                let wrong = try await get(host, path, key: "client-key-and-more")
                XCTAssertTrue(wrong.hasPrefix("HTTP/1.1 401"), "\(path): \(wrong)")
                for key in ["client-key", "admin-key"] {
                    let allowed = try await get(host, path, key: key)
                    XCTAssertTrue(allowed.hasPrefix("HTTP/1.1 200"), "\(path) with \(key): \(allowed)")
                }
            }
            let health = try await get(host, "/health", key: nil)
            XCTAssertTrue(health.hasPrefix("HTTP/1.1 200"), "health stays public: \(health)")
        }
    }
}
