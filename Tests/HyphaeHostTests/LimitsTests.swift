import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeTesting
import XCTest

/// Docs/SECURITY.md, Limits: past each limit the client gets the documented answer,
/// and the host and its other clients carry on.
final class LimitsTests: XCTestCase {
    private func bystander(on host: RunningHost) async throws -> ProtocolClient {
        let client = try await host.connect("/ws/ticker")
        try await client.subscribeSucceeding("bystander", params: ["rate": 100])
        return client
    }

    private func assertStillReceiving(_ bystander: ProtocolClient, file: StaticString = #filePath, line: UInt = #line) async throws {
        let frames = try await bystander.frames("bystander", count: 2)
        XCTAssertEqual(frames.count, 2, file: file, line: line)
    }

    func testConnectionsPastTheHostLimitGet503() async throws {
        try await withHost(configure: { $0.limits.maxConnections = 3 }) { host in
            let watcher = try await bystander(on: host)
            let second = try await host.connect()
            let third = try await host.connect()
            let refused = try await RawWebSocket.connectTCP(port: host.port)
            let refusedClosed = await refused.isClosed(within: .seconds(5))
            XCTAssertTrue(refusedClosed, "the fourth connection is closed")
            XCTAssertTrue(refused.receivedText.hasPrefix("HTTP/1.1 503"), refused.receivedText)
            XCTAssertTrue(refused.receivedText.contains("Retry-After:"), refused.receivedText)
            await refused.disconnect()
            await third.disconnect()
            // A place is free again once a connection has gone.
            var admitted = false
            for _ in 0..<50 where !admitted {
                admitted = (try? await host.connect()) != nil
                if !admitted { try await Task.sleep(for: .milliseconds(20)) }
            }
            XCTAssertTrue(admitted, "a connection is admitted once another closed")
            try await second.assertAlive("at the limit")
            try await assertStillReceiving(watcher)
        }
    }

    func testAClientThatNeverFinishesItsRequestHeadIsClosed() async throws {
        try await withHost(configure: { $0.limits.handshakeTimeout = 0.3 }) { host in
            let watcher = try await bystander(on: host)
            let slow = try await RawWebSocket.connectTCP(port: host.port)
            try await slow.write(Array("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
            let slowClosed = await slow.isClosed(within: .seconds(5))
            XCTAssertTrue(slowClosed, "a head never finished is closed after the handshake timeout")
            let silent = try await RawWebSocket.connectTCP(port: host.port)
            let silentClosed = await silent.isClosed(within: .seconds(5))
            XCTAssertTrue(silentClosed, "a connection that sends nothing is closed too")
            try await assertStillReceiving(watcher)
        }
    }

    func testAnIdleKeepAliveConnectionIsClosed() async throws {
        try await withHost(configure: { $0.limits.httpIdleTimeout = 0.3 }) { host in
            let client = try await RawWebSocket.connectTCP(port: host.port)
            try await client.write(Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            let clientClosed = await client.isClosed(within: .seconds(5))
            XCTAssertTrue(clientClosed, "closed after the idle timeout")
            XCTAssertTrue(client.receivedText.hasPrefix("HTTP/1.1 200"), "the request before was answered: \(client.receivedText)")
        }
    }

    func testMessagesPastTheRateCloseWith1008() async throws {
        try await withHost(configure: { $0.limits.maxMessagesPerSecond = 5 }) { host in
            let watcher = try await bystander(on: host)
            let flooder = try await RawWebSocket.connect(port: host.port)
            var flood: [UInt8] = []
            for _ in 0..<40 { flood += RawWebSocket.text(#"{"type":"pong"}"#) }
            try await flooder.write(flood)
            let code = try await flooder.closeCode()
            XCTAssertEqual(code, 1008)
            try await assertStillReceiving(watcher)
            // A client within the rate (ten at once fit the burst of twice the rate) is served.
            let calm = try await host.connect()
            for _ in 0..<8 { try await calm.send(type: "pong") }
            try await calm.assertAlive("within the rate")
        }
    }

    func testConnectionsPastTheKeyLimitAreRefusedAtAuth() async throws {
        try await withHost(configure: {
            $0.apiKeys = [APIKey(secret: "k-limited", id: "limited")]
            $0.limits.maxConnectionsPerKey = 2
        }) { host in
            let first = try await host.connect()
            let second = try await host.connect()
            for client in [first, second] {
                let reply = try await client.authenticate(ProtocolClient.authPayload(apiKey: "k-limited", signed: false))
                XCTAssertEqual(reply["type"]?.stringValue, "auth_success")
            }
            let third = try await host.connect()
            let refused = try await third.authenticate(ProtocolClient.authPayload(apiKey: "k-limited", signed: false))
            XCTAssertEqual(refused["type"]?.stringValue, "auth_failed")
            XCTAssertEqual(refused.errorCode, "TOO_MANY_CONNECTIONS")
            guard case .closeFrame(let code, _) = try await third.next() else { return XCTFail("expected the connection to close") }
            XCTAssertEqual(code, 1008)
            try await first.assertAlive("the key's other connections stay")
            await second.disconnect()
            var admitted = false
            for _ in 0..<50 where !admitted {
                let fourth = try await host.connect()
                admitted = (try await fourth.authenticate(ProtocolClient.authPayload(apiKey: "k-limited", signed: false)))["type"]?.stringValue == "auth_success"
                if !admitted { try await Task.sleep(for: .milliseconds(20)) }
            }
            XCTAssertTrue(admitted, "a place is free once a connection of the key has gone")
        }
    }

    func testInstancesPastTheHostLimitAreCapacity() async throws {
        try await withHost(configure: { $0.limits.maxInstances = 1 }) { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            // The bystander's ticker instance is the one allowed; params of their own need another.
            let refused = try await client.subscribe("other", to: "ticker", params: ["rate": 7])
            XCTAssertEqual(refused["type"]?.stringValue, "subscribe_failed")
            XCTAssertEqual(refused.errorCode, "CAPACITY")
            XCTAssertTrue(refused.errorMessage.contains("maximum of 1 pipeline instances"), refused.errorMessage)
            // The running instance's params are still served.
            try await client.subscribeSucceeding("same", to: "ticker", params: ["rate": 100])
            try await assertStillReceiving(watcher)
        }
    }
}
