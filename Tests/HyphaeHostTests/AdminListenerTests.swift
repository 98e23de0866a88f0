import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeTesting
import NIOCore
import NIOPosix
import XCTest

/// Docs/SECURITY.md, The admin API: with an admin port, the admin API is served on a
/// listener of its own only, the public port answers its paths with 404, and the
/// public port's clients are served as before.
final class AdminListenerTests: XCTestCase {
    private static let key = "listener-admin-key"
    private let authorization = ["Authorization": "Bearer \(AdminListenerTests.key)"]

    private func withSplitHost<Result>(
        configure: (inout HostConfiguration) -> Void = { _ in }, _ body: (RunningHost, Int) async throws -> Result
    ) async throws -> Result {
        try await withHost(configure: {
            $0.adminKey = Self.key
            $0.adminPort = 0
            configure(&$0)
        }) { host in
            guard let adminPort = host.server.adminPort else { throw ExpectationFailure("the host reports no admin port") }
            XCTAssertNotEqual(adminPort, host.port)
            return try await body(host, adminPort)
        }
    }

    func testTheAdminAPIIsServedOnTheAdminPortOnlyWhileThePublicPortServesStreams() async throws {
        try await withSplitHost { host, adminPort in
            let watcher = try await host.connect("/ws/ticker")
            try await watcher.subscribeSucceeding("bystander", params: ["rate": 100])

            let listing = try await HTTPReply.request(host: "127.0.0.1", port: adminPort, method: "GET", path: "/admin/pipelines", headers: authorization)
            XCTAssertEqual(listing.status, 200, listing.body)
            XCTAssertTrue(listing.body.contains("\"ticker\""), listing.body)

            // A write through the admin port changes what the public port serves.
            let yaml = PipelineFixtures.ticker.replacingOccurrences(of: "name: ticker", with: "name: echo")
                .replacingOccurrences(of: "path: /ws/ticker", with: "path: /ws/echo")
            let created = try await HTTPReply.request(host: "127.0.0.1", port: adminPort, method: "PUT", path: "/admin/pipelines/echo", headers: authorization, body: yaml)
            XCTAssertEqual(created.status, 201, created.body)
            let echo = try await host.connect("/ws/echo")
            try await echo.subscribeSucceeding("new", to: "echo", params: ["rate": 100])
            let echoFrames = try await echo.frames("new", count: 2)
            XCTAssertEqual(echoFrames.count, 2)

            // The public port: the same 404 as any unknown path, with the right key or without,
            // and for a write whose body is never read.
            for (method, headers) in [("GET", authorization), ("GET", [:]), ("DELETE", authorization)] {
                let refused = try await HTTPReply.request(host: "127.0.0.1", port: host.port, method: method, path: "/admin/pipelines/echo", headers: headers)
                XCTAssertEqual(refused.status, 404, "\(method) \(refused.body)")
                XCTAssertTrue(refused.body.contains("nothing is served at /admin/pipelines/echo"), refused.body)
            }
            let write = try await RawWebSocket.connectTCP(port: host.port)
            try await write.write(Array("PUT /admin/pipelines/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(Self.key)\r\nContent-Length: 3000000\r\n\r\n".utf8))
            let writeClosed = await write.isClosed(within: .seconds(5))
            XCTAssertTrue(writeClosed, "refused from the head, without waiting for the body")
            XCTAssertTrue(write.receivedText.hasPrefix("HTTP/1.1 404"), write.receivedText)
            let stillThere = try await HTTPReply.request(host: "127.0.0.1", port: adminPort, method: "GET", path: "/admin/pipelines/echo", headers: authorization)
            XCTAssertEqual(stillThere.status, 200, "the public port's DELETE did nothing: \(stillThere.body)")

            // The admin port serves the admin API and nothing else: no status, no streams.
            let adminHealth = try await HTTPReply.get(host: "127.0.0.1", port: adminPort, path: "/health")
            XCTAssertEqual(adminHealth.status, 404, adminHealth.body)
            XCTAssertTrue(adminHealth.body.contains("admin listener"), adminHealth.body)
            do {
                _ = try await RawWebSocket.connect(port: adminPort, path: "/ws/ticker")
                XCTFail("a WebSocket upgrade on the admin port was accepted")
            } catch let error as RawWebSocketError {
                XCTAssertTrue(error.description.contains("404"), error.description)
            }
            let wrongKey = try await HTTPReply.request(host: "127.0.0.1", port: adminPort, method: "GET", path: "/admin/pipelines", headers: ["Authorization": "Bearer wrong"])
            XCTAssertEqual(wrongKey.status, 401, "the key is checked on the admin port as on a shared one")

            // The public port's clients were served all along.
            let frames = try await watcher.frames("bystander", count: 3)
            XCTAssertEqual(frames.count, 3)
            let health = try await host.get("/health")
            XCTAssertEqual(health.status, 200)
        }
    }

    func testTheAdminListenerSpeaksTLSWhenThePublicPortDoes() async throws {
        let authority = try TestCertificateAuthority(name: "Hyphae AdminListenerTests CA")
        let certificate = try authority.issueServerCertificate()
        let trust = try ClientTLS.trusting(certificatesIn: authority.certificateFile)
        try await withSplitHost(configure: {
            $0.tlsCertificateFile = certificate.certificateFile
            $0.tlsKeyFile = certificate.keyFile
        }) { host, adminPort in
            let listing = try await HTTPReply.request(host: "127.0.0.1", port: adminPort, method: "GET", path: "/admin/pipelines", headers: authorization, tls: trust)
            XCTAssertEqual(listing.status, 200, listing.body)
            let plain = try await RawWebSocket.connectTCP(port: adminPort)
            try await plain.write(Array("GET /admin/pipelines HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            _ = await plain.isClosed(within: .seconds(5))
            XCTAssertTrue(plain.receivedText.hasPrefix("HTTP/1.1 400"), "plain HTTP is refused there too: \(plain.receivedText)")
            let client = try await host.connect("/ws/ticker", tls: trust)
            try await client.subscribeSucceeding("tls", params: ["rate": 100])
            let frames = try await client.frames("tls", count: 2)
            XCTAssertEqual(frames.count, 2)
        }
    }

    func testAnAdminPortInUseStopsTheStartWithTheSettingToChange() async throws {
        let occupant = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { occupant.close(promise: nil) }
        let taken = try XCTUnwrap(occupant.localAddress?.port)
        do {
            try await withHost(configure: {
                $0.adminKey = Self.key
                $0.adminPort = taken
            }) { _ in XCTFail("the host started with its admin port taken") }
        } catch let error as ListenError {
            XCTAssertTrue(error.description.contains("cannot listen for the admin API on 127.0.0.1:\(taken)"), error.description)
            XCTAssertTrue(error.description.contains("--admin-port"), error.description)
        }
    }

    func testTheAdminPortIsReadFromTheHostConfigAndNeedsAKey() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("host.yaml", "admin_host: 10.0.0.5\nadmin_port: 9091\n")
        var configuration = try HostConfiguration.load(file: path)
        XCTAssertEqual(configuration.adminHost, "10.0.0.5")
        XCTAssertEqual(configuration.adminPort, 9091)
        XCTAssertTrue(configuration.startupProblems().contains { $0.contains("admin API, which is off without a key") }, "\(configuration.startupProblems())")
        configuration.adminKey = Self.key
        XCTAssertEqual(configuration.startupProblems(), [])
        configuration.adminHost = configuration.host
        configuration.adminPort = configuration.port
        XCTAssertTrue(configuration.startupProblems().contains { $0.contains("cannot share") }, "\(configuration.startupProblems())")
        XCTAssertNil(HostConfiguration().adminPort, "no admin listener unless asked for")
        let hostOnly = try folder.write("host-only.yaml", "admin_host: 10.0.0.5\n")
        XCTAssertThrowsError(try HostConfiguration.load(file: hostOnly)) { error in
            XCTAssertTrue("\(error)".contains("admin_host is the address of the admin listener, which needs admin_port"), "\(error)")
        }
    }
}
