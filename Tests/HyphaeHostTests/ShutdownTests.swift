import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeTesting
import XCTest

/// Graceful shutdown (PROTOCOL.md, close code 1001 and stream_end server_shutdown),
/// in process and as a real `hyphae serve` given SIGTERM, and the refusal to start
/// in prod without a key.
final class ShutdownTests: XCTestCase {
    /// Reads until the close, which must be 1001 after a `stream_end` (`server_shutdown`) for each of `streamIDs`.
    private func expectShutdown(of client: ProtocolClient, streamIDs: Set<String>, file: StaticString = #filePath, line: UInt = #line) async throws {
        let before = try await client.expectClose(code: 1001, timeout: .seconds(20))
        let ends = before.filter { $0.type == "stream_end" }
        XCTAssertEqual(Set(ends.compactMap(\.streamID)), streamIDs, file: file, line: line)
        for end in ends {
            XCTAssertEqual(end.payload["reason"], "server_shutdown", end.text, file: file, line: line)
            XCTAssertFalse(end.errorMessage.isEmpty, file: file, line: line)
            XCTAssertNotNil(end.int("packets_sent"), file: file, line: line)
            XCTAssertEqual(end.int("dropped_frames"), 0, file: file, line: line)
        }
        // Nothing of a stream follows its stream_end.
        for id in streamIDs {
            let afterEnd = before.drop { !($0.type == "stream_end" && $0.streamID == id) }.dropFirst()
            XCTAssertFalse(afterEnd.contains { $0.streamID == id }, "frames of \(id) after its stream_end", file: file, line: line)
        }
    }

    func testShutdownEndsEveryStreamThenClosesWith1001() async throws {
        try await withHost { host in
            let first = try await host.connect()
            let second = try await host.connect("/ws/ticker")
            let idle = try await host.connect("/ws/heartbeat")
            try await first.subscribeSucceeding("a", to: "ticker", params: ["rate": 100])
            try await first.subscribeSucceeding("b", to: "finite", params: ["count": 100_000, "rate": 100])
            try await second.subscribeSucceeding("c")
            _ = try await first.frames("b", count: 1)
            _ = try await second.frames("c", count: 1)
            async let stopped: Void = host.server.shutdown()
            try await expectShutdown(of: first, streamIDs: ["a", "b"])
            try await expectShutdown(of: second, streamIDs: ["c"])
            try await expectShutdown(of: idle, streamIDs: [])
            await stopped
            do {
                _ = try await host.connect()
                XCTFail("a host that has shut down accepts no connection")
            } catch {}
        }
    }

    func testSIGTERMShutsDownGracefullyAndExitsZero() async throws {
        let pipelines = try TemporaryFolder()
        for (name, yaml) in PipelineFixtures.standard { try pipelines.write("\(name).yaml", yaml) }
        let secret = "audit-secret-key-123"
        let serve = try await ServeProcess.start(
            ["--pipelines", pipelines.url.path, "--log-format", "json"],
            environment: ["MFN_ENV": "dev", "MFN_API_KEY": secret, "MFN_API_KEYS": "", "MFN_API_KEY_REQUIRED": ""])
        defer { serve.killIfRunning() }

        let client = try await serve.connect()
        try await assertEqual(await client.sendInit().payload["auth_required"], true)
        try await assertEqual(await client.authenticate(ProtocolClient.authPayload(apiKey: secret, signed: true)).type, "auth_success")
        try await client.subscribeSucceeding("live", to: "ticker", params: ["rate": 100])
        _ = try await client.frames("live", count: 2)
        let ready = try await HTTPReply.get(host: "127.0.0.1", port: serve.port, path: "/ready")
        XCTAssertEqual(ready.status, 200)

        serve.process.terminate()
        try await expectShutdown(of: client, streamIDs: ["live"])
        let status = try await serve.waitForExit(timeout: .seconds(15))
        XCTAssertEqual(status, 0, "exits 0 within the deadline; stderr:\n\(serve.standardError)")

        // The audit trail: JSON events for each step, and never the key.
        let log = serve.standardError
        XCTAssertFalse(log.contains(secret), "the key reached the log")
        let events = log.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)).objectValue }
        let names = events.compactMap { $0["event"]?.stringValue }
        for step in ["connection_opened", "auth_success", "subscribed", "unsubscribed", "connection_closed", "shutdown_complete"] {
            XCTAssertTrue(names.contains(step), "no '\(step)' event in the log:\n\(log)")
        }
        let closed = try XCTUnwrap(events.first { $0["event"]?.stringValue == "connection_closed" })
        // Log fields are strings, so that `code` has one type whether it is "1001" or "none".
        XCTAssertEqual(closed["code"]?.stringValue, "1001", closed.text)
        for field in ["packets_sent", "packets_received", "dropped_frames", "drop_rate_percent", "duration_s"] {
            XCTAssertNotNil(closed[field], "connection_closed carries \(field): \(closed.text)")
        }
    }

    /// On SIGTERM, `/ready` turns 503 for the readiness grace while the listener still
    /// accepts, so that a load balancer stops sending clients before anyone is refused.
    func testReadyTurns503BeforeTheListenerCloses() async throws {
        let pipelines = try TemporaryFolder()
        for (name, yaml) in PipelineFixtures.standard { try pipelines.write("\(name).yaml", yaml) }
        let config = try pipelines.write("host.conf", "readiness_grace: 1.5\n")
        let serve = try await ServeProcess.start(["--pipelines", pipelines.url.path, "--config", config], environment: ["MFN_ENV": "dev"])
        defer { serve.killIfRunning() }
        let before = try await HTTPReply.get(host: "127.0.0.1", port: serve.port, path: "/ready")
        XCTAssertEqual(before.status, 200)
        kill(serve.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        let during = try await HTTPReply.get(host: "127.0.0.1", port: serve.port, path: "/ready")
        XCTAssertEqual(during.status, 503, during.body)
        let client = try await serve.connect()
        try await client.subscribeSucceeding("late", to: "ticker")
        let status = try await serve.waitForExit(timeout: .seconds(15))
        XCTAssertEqual(status, 0, serve.standardError)
    }

    /// A second SIGTERM during the drain ends the process at once (status 128 + 15), while
    /// a client that stopped reading would have held the drain for its grace period.
    func testASecondSignalDuringTheDrainExitsAtOnce() async throws {
        let pipelines = try TemporaryFolder()
        for (name, yaml) in PipelineFixtures.standard { try pipelines.write("\(name).yaml", yaml) }
        let serve = try await ServeProcess.start(["--pipelines", pipelines.url.path], environment: ["MFN_ENV": "dev"])
        defer { serve.killIfRunning() }
        let stalled = try await serve.connect()
        try await stalled.subscribeSucceeding("big", to: "ticker", params: ["rate": 1000, "payload_bytes": 60_000])
        try await stalled.setReading(false)
        // Let the socket buffers fill, so that the close frame cannot be written.
        try await Task.sleep(for: .seconds(2))
        kill(serve.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertTrue(serve.process.isRunning, "the drain is under way")
        kill(serve.process.processIdentifier, SIGTERM)
        let status = try await serve.waitForExit(timeout: .seconds(3))
        XCTAssertEqual(status, 128 + SIGTERM, "stderr:\n\(serve.standardError)")
        XCTAssertTrue(serve.standardError.contains("a second signal"), serve.standardError)
        await stalled.disconnect()
    }

    func testProdWithoutAKeyRefusesToStartAndSaysHowToSetOne() throws {
        let pipelines = try TemporaryFolder()
        try pipelines.write("ticker.yaml", PipelineFixtures.ticker)
        let result = try runHyphae(
            ["serve", "--port", "0", "--pipelines", pipelines.url.path],
            environment: ["MFN_ENV": "prod", "MFN_API_KEY": "", "MFN_API_KEYS": "", "MFN_API_KEY_REQUIRED": ""],
            timeout: 20)
        XCTAssertNotEqual(result.status, 0, result.description)
        XCTAssertTrue(result.standardError.contains("MFN_API_KEY="), "says how to set a key: \(result.description)")
        XCTAssertFalse(result.standardError.contains("serving"), result.description)

        let production = try runHyphae(
            ["serve", "--port", "0", "--pipelines", pipelines.url.path],
            environment: ["MFN_ENV": "production", "MFN_API_KEY": "", "MFN_API_KEYS": "", "MFN_API_KEY_REQUIRED": ""],
            timeout: 20)
        XCTAssertNotEqual(production.status, 0, "production means prod: \(production.description)")

        let unknown = try runHyphae(
            ["serve", "--port", "0", "--pipelines", pipelines.url.path],
            environment: ["MFN_ENV": "qa", "MFN_API_KEY": "k"],
            timeout: 20)
        XCTAssertNotEqual(unknown.status, 0, unknown.description)
        XCTAssertTrue(unknown.standardError.contains("MFN_ENV"), unknown.description)
    }
}
