import HyphaeClient
import HyphaeCore
@testable import HyphaeHost
import HyphaeTesting
import XCTest

/// The console's files over plain HTTP: what a browser gets before it runs anything.
final class ConsoleRouteTests: XCTestCase {
    func testTheConsoleAndHyphaeJSAreServedWithTheirTypesAndPolicy() async throws {
        try await withHost { host in
            let page = try await host.get("/")
            XCTAssertEqual(page.status, 200)
            XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
            XCTAssertTrue(page.body.contains("<script type=\"module\" src=\"/console/console.js\">"), page.body)
            let policy = try XCTUnwrap(page.headers["content-security-policy"])
            for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
                XCTAssertTrue(policy.contains(directive), policy)
            }
            XCTAssertFalse(policy.contains("unsafe-inline"), policy)
            XCTAssertEqual(page.headers["x-content-type-options"], "nosniff")
            XCTAssertEqual(page.headers["x-frame-options"], "DENY")

            let client = try await host.get("/hyphae.js")
            XCTAssertEqual(client.status, 200)
            XCTAssertEqual(client.headers["content-type"], "text/javascript; charset=utf-8")
            XCTAssertTrue(client.body.contains("export class HyphaeClient"))
            // The file served is the one kept in the repository, byte for byte.
            let onDisk = try String(contentsOf: PackagePaths.root.appendingPathComponent("Sources/HyphaeConsole/Files/hyphae.js"), encoding: .utf8)
            XCTAssertEqual(client.body, onDisk)

            for (path, type) in [("/console/console.js", "text/javascript; charset=utf-8"), ("/console/charts.js", "text/javascript; charset=utf-8"), ("/console/console.css", "text/css; charset=utf-8")] {
                let reply = try await host.get(path)
                XCTAssertEqual(reply.status, 200, path)
                XCTAssertEqual(reply.headers["content-type"], type, path)
            }
            try await assertEqual(await host.get("/console/missing.js").status, 404)
            try await assertEqual(await HTTPReply.get(host: "127.0.0.1", port: host.port, path: "/", method: "POST").status, 405)
        }
    }

    /// SECURITY.md's origin rules hold for the console's page as for every request.
    func testTheOriginPolicyCoversTheConsole() async throws {
        try await withHost(configure: { $0.allowedOrigins = ["https://console.example.com"] }) { host in
            func status(origin: String) async throws -> String {
                let client = try await RawWebSocket.connectTCP(port: host.port)
                try await client.write(Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: \(origin)\r\nConnection: close\r\n\r\n".utf8))
                for _ in 0..<300 where !client.receivedText.contains("\r\n\r\n") { try await Task.sleep(for: .milliseconds(10)) }
                let text = client.receivedText
                await client.disconnect()
                return String(text.prefix(12))
            }
            try await assertEqual(await status(origin: "https://evil.example.net"), "HTTP/1.1 403")
            try await assertEqual(await status(origin: "https://console.example.com"), "HTTP/1.1 200")
        }
    }
}
