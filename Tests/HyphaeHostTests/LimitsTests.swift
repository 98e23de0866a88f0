import HyphaeClient
import HyphaeCore
import HyphaeHost
import Foundation
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
            let watcher = try await bystander(on: host)
            let client = try await RawWebSocket.connectTCP(port: host.port)
            try await client.write(Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
            let clientClosed = await client.isClosed(within: .seconds(5))
            XCTAssertTrue(clientClosed, "closed after the idle timeout")
            XCTAssertTrue(client.receivedText.hasPrefix("HTTP/1.1 200"), "the request before was answered: \(client.receivedText)")
            // The WebSocket connection, idle in HTTP terms once upgraded, is not affected.
            try await assertStillReceiving(watcher)
        }
    }

    func testSubscriptionsPastTheConnectionLimitAreRefusedAndTheOthersFlow() async throws {
        try await withHost(configure: { $0.maxSubscriptionsPerConnection = 2 }) { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            try await client.subscribeSucceeding("one", to: "ticker", params: ["rate": 100])
            try await client.subscribeSucceeding("two", to: "ticker", params: ["rate": 100])
            let refused = try await client.subscribe("three", to: "ticker", params: ["rate": 100])
            XCTAssertEqual(refused.type, "subscribe_failed")
            XCTAssertEqual(refused.errorCode, "TOO_MANY_SUBSCRIPTIONS")
            let frames = try await client.frames("two", count: 2)
            XCTAssertEqual(frames.count, 2, "the connection's own subscriptions go on")
            try await assertStillReceiving(watcher)
        }
    }

    func testInstancesPastTheKeyLimitAreCapacityWhileOtherKeysStartTheirs() async throws {
        try await withHost(configure: {
            $0.apiKeys = [APIKey(secret: "k-busy", id: "busy"), APIKey(secret: "k-calm", id: "calm"), APIKey(secret: "k-watch", id: "watch")]
            $0.limits.maxInstancesPerKey = 1
        }) { host in
            func authenticated(_ key: String) async throws -> ProtocolClient {
                let client = try await host.connect("/ws/ticker")
                let reply = try await client.authenticate(ProtocolClient.authPayload(apiKey: key, signed: false))
                XCTAssertEqual(reply.type, "auth_success", reply.text)
                return client
            }
            let watcher = try await authenticated("k-watch")
            try await watcher.subscribeSucceeding("bystander", params: ["rate": 100])
            let busy = try await authenticated("k-busy")
            try await busy.subscribeSucceeding("first", params: ["rate": 7])
            let again = try await authenticated("k-busy")
            let refused = try await again.subscribe("second", to: "ticker", params: ["rate": 8])
            XCTAssertEqual(refused.type, "subscribe_failed")
            XCTAssertEqual(refused.errorCode, "CAPACITY")
            // Joining an instance that runs already starts nothing, so the key may.
            try await again.subscribeSucceeding("shared", to: "ticker", params: ["rate": 7])
            let other = try await authenticated("k-calm")
            try await other.subscribeSucceeding("own", to: "ticker", params: ["rate": 9])
            try await assertStillReceiving(watcher)
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

    func testConnectionsPastTheAddressLimitGet503WhenLoopbackIsNotTrusted() async throws {
        let logs = LogRecorder()
        try await withHost(logs: logs, configure: {
            $0.limits.trustedAddresses = []
            $0.limits.maxConnectionsPerAddress = 3
        }) { host in
            let watcher = try await bystander(on: host)
            let second = try await host.connect()
            let third = try await host.connect()
            let refused = try await RawWebSocket.connectTCP(port: host.port)
            let refusedClosed = await refused.isClosed(within: .seconds(5))
            XCTAssertTrue(refusedClosed, "the fourth connection from 127.0.0.1 is closed")
            XCTAssertTrue(refused.receivedText.hasPrefix("HTTP/1.1 503"), refused.receivedText)
            XCTAssertTrue(refused.receivedText.contains("Retry-After: 5"), refused.receivedText)
            XCTAssertTrue(refused.receivedText.contains("this address holds its limit of 3 connections"), refused.receivedText)
            let logged = logs.entries(withEvent: "connection_refused")
            XCTAssertEqual(logged.count, 1, "\(logged)")
            XCTAssertEqual(logged.first?.metadata["reason"], "max_connections_per_address")
            XCTAssertEqual(logged.first?.metadata["remote"], "127.0.0.1")
            // The three admitted connections are served as before.
            try await second.assertAlive("at the address limit")
            try await third.assertAlive("at the address limit")
            try await assertStillReceiving(watcher)
            await third.disconnect()
            var admitted = false
            for _ in 0..<50 where !admitted {
                admitted = (try? await host.connect()) != nil
                if !admitted { try await Task.sleep(for: .milliseconds(20)) }
            }
            XCTAssertTrue(admitted, "a place is free again once a connection from the address has gone")
        }
    }

    func testTrustedAddressesCountOnlyInAll() async throws {
        try await withHost(configure: { $0.limits.maxConnectionsPerAddress = 1 }) { host in
            // Loopback is trusted unless set otherwise: the benchmarks' 10,000 connections need it.
            let watcher = try await bystander(on: host)
            let others = [try await host.connect(), try await host.connect()]
            for other in others { try await other.assertAlive("from a trusted address") }
            try await assertStillReceiving(watcher)
        }
    }

    func testTrustedAddressesAreReadAsCIDRBlocksAndCheckedAtLoad() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("host.yaml", "limits:\n  trusted_addresses: [10.0.0.0/8, \"fd00::/8\", 192.0.2.7]\n")
        let trusted = try HostConfiguration.load(file: path).limits.trustedAddresses
        XCTAssertEqual(trusted.map(\.description), ["10.0.0.0/8", "fd00::/8", "192.0.2.7"])
        XCTAssertTrue(trusted[0].contains(ip: "10.200.3.4"))
        XCTAssertTrue(trusted[0].contains(ip: "::ffff:10.200.3.4"), "an IPv4 client on a dual-stack socket")
        XCTAssertFalse(trusted[0].contains(ip: "11.0.0.1"))
        XCTAssertTrue(trusted[1].contains(ip: "fd12:3456::1"))
        XCTAssertFalse(trusted[1].contains(ip: "fe80::1"))
        XCTAssertTrue(trusted[2].contains(ip: "192.0.2.7"))
        XCTAssertFalse(trusted[2].contains(ip: "192.0.2.8"))

        let empty = try folder.write("empty.yaml", "limits:\n  trusted_addresses: []\n")
        XCTAssertEqual(try HostConfiguration.load(file: empty).limits.trustedAddresses, [])
        XCTAssertEqual(HostConfiguration().limits.trustedAddresses.map(\.description), ["127.0.0.0/8", "::1"])

        let bad = try folder.write("bad.yaml", "limits:\n  trusted_addresses: [10.0.0.1/8, 10.0.0.0/33, proxy.local]\n")
        XCTAssertThrowsError(try HostConfiguration.load(file: bad)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("limits.trusted_addresses"), text)
            XCTAssertTrue(text.contains("did you mean 10.0.0.0/8?"), text)
            XCTAssertTrue(text.contains("from 0 to 32"), text)
            XCTAssertTrue(text.contains("'proxy.local' is not an IP address"), text)
        }
    }

    /// A client that sends requests with replies and never reads: the host stops reading
    /// from it once its socket backs up, and past `max_outbound_bytes` held closes it with
    /// 4009. Its close frame waits behind the bytes it never read, so the proof is on
    /// the host's side: the close counted under 4009 in /metrics, the `outbound_limit` log
    /// line, and the socket closed under the client.
    func testAClientThatNeverReadsIsClosedWith4009WhileOthersAreServed() async throws {
        let logs = LogRecorder()
        try await withHost(logs: logs, configure: {
            $0.limits.maxOutboundBytes = 65_536
            $0.limits.maxMessagesPerSecond = 1_000_000
            // A heartbeat is a reply too: it finds the limit even when no request is being read.
            $0.heartbeatInterval = 0.2
            $0.heartbeatTimeout = 300
        }) { host in
            let watcher = try await bystander(on: host)
            let residentBefore = try Self.residentBytes()
            let reader = try await RawWebSocket.connect(port: host.port)
            try await reader.setReading(false)
            // Unsubscribing an unknown id is valid and answered: about 200 bytes per 40 sent.
            let request = RawWebSocket.text(#"{"type":"unsubscribe","payload":{"stream_id":"nope"}}"#)
            let batch = Array([[UInt8]](repeating: request, count: 1_000).joined())
            var sentBytes = 0
            let deadline = ContinuousClock.now + .seconds(120)
            while try await Self.closes(on: host, code: 4009) == 0 {
                guard ContinuousClock.now < deadline else {
                    return XCTFail("no close 4009 after \(sentBytes) bytes of requests")
                }
                if reader.isWritable, sentBytes < 256 << 20 {
                    reader.writeWithoutWaiting(batch)
                    sentBytes += batch.count
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let limit = logs.entries(withEvent: "outbound_limit")
            XCTAssertEqual(limit.count, 1, "\(limit)")
            XCTAssertGreaterThan(Int(limit.first?.metadata["bytes"] ?? "") ?? 0, 65_536)
            // The socket is closed under the client: once it reads, it finds the end.
            try await reader.setReading(true)
            let closed = await reader.isClosed(within: .seconds(30))
            XCTAssertTrue(closed, "the host closed the socket of the client that did not read")
            // The host logs the close once its side of the socket is gone, which the client may see a moment before.
            var closing: [RecordedLogEntry] = []
            for _ in 0..<500 where closing.isEmpty {
                closing = logs.entries(withEvent: "connection_closed").filter { $0.metadata["code"] == "4009" }
                if closing.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            }
            XCTAssertEqual(closing.count, 1, "\(logs.entries(withEvent: "connection_closed"))")
            // What the host held for it is bounded by the limit and the sockets' buffers, not by what it sent.
            let grown = try Self.residentBytes() - residentBefore
            XCTAssertLessThan(grown, 32 << 20, "the process grew \(grown) bytes while the client sent \(sentBytes) bytes of requests")
            try await assertStillReceiving(watcher)
            try await watcher.assertAlive("after the other client was closed")
        }
    }

    /// A queue is bounded in bytes as well as frames: a subscriber that never reads,
    /// with room for 100,000 frames of 20 kB (2 GB) in its queue, is a slow consumer once
    /// the queue holds 64 KiB (its `close` policy: 4008), and another subscriber is served.
    func testASubscriptionQueueIsBoundedInBytesWhateverItsLengthAllows() async throws {
        let heavy = PipelineFixtures.countedTicker(
            name: "heavy", policy: "close", queueSize: 100_000, defaults: (count: 100_000, rate: 1_000, payloadBytes: 20_000)
        ) + "\n    max_queue_bytes: 65536"
        var pipelines = PipelineFixtures.standard
        pipelines["heavy"] = heavy
        try await withHost(pipelines: pipelines) { host in
            let watcher = try await bystander(on: host)
            let reader = try await RawWebSocket.connect(port: host.port, path: "/ws/heavy")
            try await reader.setReading(false)
            try await reader.write(RawWebSocket.text(#"{"type":"subscribe","payload":{"stream_id":"unread"}}"#))
            // The frame bound alone would take 100 s to reach at 1,000 frames a second.
            let deadline = ContinuousClock.now + .seconds(60)
            while try await Self.closes(on: host, code: 4008) == 0 {
                guard ContinuousClock.now < deadline else { return XCTFail("the unread queue never hit its byte bound") }
                try await Task.sleep(for: .milliseconds(50))
            }
            try await reader.setReading(true)
            let closed = await reader.isClosed(within: .seconds(30))
            XCTAssertTrue(closed, "the slow consumer's socket is closed")
            try await assertStillReceiving(watcher)
        }
    }

    /// The bundled pipelines at their maxima, to a client that never reads: a ticker at
    /// 1,000 frames/s of 16 KiB and a 256×256 simulation with its full state (about half
    /// a megabyte a frame). Each queue is bounded in bytes, and all of them together by
    /// the host's budget (8 MiB here): once it is reached the queues drop their oldest
    /// frames, the process stops growing, and a subscriber of the same pipeline is served.
    func testTheBundledPipelinesAtTheirMaximaHoldBoundedMemoryForAClientThatNeverReads() async throws {
        let folder = PackagePaths.root.appendingPathComponent("pipelines")
        var bundled: [String: String] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".yaml") && !file.hasSuffix(".test.yaml") {
            bundled[String(file.dropLast(5))] = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        }
        XCTAssertNotNil(bundled["ticker"])
        XCTAssertNotNil(bundled["simulation_live"])
        try await withHost(pipelines: bundled, configure: { $0.limits.maxQueuedBytes = 8 << 20 }) { host in
            let watcher = try await host.connect("/ws/ticker")
            try await watcher.subscribeSucceeding("bystander", params: ["rate": 100])
            let residentBefore = try Self.residentBytes()
            let reader = try await RawWebSocket.connect(port: host.port)
            try await reader.setReading(false)
            try await reader.write(
                RawWebSocket.text(#"{"type":"subscribe","payload":{"stream_id":"t","stream_type":"ticker","params":{"rate":1000,"payload_bytes":16384}}}"#)
                + RawWebSocket.text(#"{"type":"subscribe","payload":{"stream_id":"s","stream_type":"simulation_live","params":{"grid_size":256,"steps":1000,"include_full_state":true}}}"#))
            let deadline = ContinuousClock.now + .seconds(180)
            var dropped: [String: Double] = [:]
            while dropped.values.count < 2 || dropped.values.contains(0) {
                guard ContinuousClock.now < deadline else { return XCTFail("the unread queues never reached their bound: dropped \(dropped)") }
                try await Task.sleep(for: .milliseconds(100))
                for name in ["ticker", "simulation_live"] {
                    dropped[name] = try await host.pipelineStatus(name)["frames_dropped"]?.numberValue ?? 0
                }
            }
            let grown = try Self.residentBytes() - residentBefore
            XCTAssertLessThan(grown, 48 << 20, "the process grew \(grown) bytes for a client that reads nothing")
            let frames = try await watcher.frames("bystander", count: 3)
            XCTAssertEqual(frames.count, 3)
            await reader.disconnect()
        }
    }

    private static func closes(on host: RunningHost, code: Int) async throws -> Int {
        let metrics = try await host.get("/metrics")
        let prefix = "hyphae_connection_closes_total{code=\"\(code)\"} "
        guard let line = metrics.body.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Int(line.dropFirst(prefix.count)) ?? 0
    }

    /// The process's resident set (VmRSS in /proc/self/status), in bytes.
    private static func residentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { throw ExpectationFailure("no VmRSS in /proc/self/status") }
        return kilobytes * 1024
    }
}
