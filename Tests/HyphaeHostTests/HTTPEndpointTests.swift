import HyphaeClient
import HyphaeCore
import XCTest

/// The host's plain HTTP endpoints: /health, /ready, /metrics, GET /pipelines.
final class HTTPEndpointTests: XCTestCase {
    func testHealthAndReady() async throws {
        try await withHost { host in
            let health = try await host.get("/health")
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(try JSONParser.parse(health.body).objectValue?["status"], "ok")
            XCTAssertEqual(health.headers["content-type"], "application/json")
            let ready = try await host.get("/ready")
            XCTAssertEqual(ready.status, 200)
            let readiness = try XCTUnwrap(try JSONParser.parse(ready.body).objectValue)
            XCTAssertEqual(readiness["status"], "ready")
            XCTAssertEqual(readiness["pipelines"]?.intValue, 3)
        }
    }

    func testUnknownPathsAndWrongMethods() async throws {
        try await withHost { host in
            try await assertEqual(await host.get("/nothing").status, 404)
            try await assertEqual(await host.get("/pipelines", method: "DELETE").status, 405)
            // A WebSocket path asked for without an upgrade.
            try await assertEqual(await host.get("/ws/ticker").status, 426)
            // An upgrade to a path that nothing serves is refused.
            do {
                _ = try await host.connect("/ws/nowhere")
                XCTFail("the upgrade to /ws/nowhere should be refused")
            } catch {}
            try await assertEqual(await host.get("/health").status, 200)
        }
    }

    func testMetricsAreMovingPrometheusCounters() async throws {
        try await withHost { host in
            let client = try await host.connect()
            _ = try await client.authenticate(ProtocolClient.authPayload(apiKey: "any", timestamp: 1, signed: false))
            try await client.sendText("not json")
            _ = try await client.nextReply()
            _ = try await client.subscribe("bad", to: "ticker", params: ["rate": -1])
            try await client.subscribeSucceeding("m", to: "ticker", params: ["rate": 200])
            _ = try await client.frames("m", count: 2)
            let reply = try await host.get("/metrics")
            XCTAssertEqual(reply.status, 200)
            XCTAssertTrue(reply.headers["content-type"]?.hasPrefix("text/plain") ?? false)
            let first = Self.samples(reply.body)
            for family in [
                "hyphae_connections", "hyphae_connections_total", "hyphae_auth_total", "hyphae_subscriptions",
                "hyphae_subscribe_failures_total", "hyphae_invalid_messages_total", "hyphae_pipeline_instances",
                "hyphae_pipeline_subscribers", "hyphae_frames_emitted_total", "hyphae_frames_sent_total",
                "hyphae_queue_depth", "hyphae_frames_dropped_total", "hyphae_send_latency_seconds",
            ] {
                XCTAssertTrue(reply.body.contains("# TYPE \(family) "), "\(family) is declared")
            }
            XCTAssertEqual(first["hyphae_connections"], 1)
            XCTAssertEqual(first["hyphae_subscriptions"], 1)
            XCTAssertEqual(first["hyphae_auth_total{result=\"failure\"}"], 1)
            XCTAssertEqual(first["hyphae_subscribe_failures_total"], 1)
            XCTAssertEqual(first["hyphae_invalid_messages_total"], 1)
            XCTAssertEqual(first["hyphae_pipeline_instances{pipeline=\"ticker\"}"], 1)
            XCTAssertEqual(first["hyphae_frames_dropped_total{pipeline=\"ticker\",policy=\"drop_oldest\"}"], 0)
            let emitted = try XCTUnwrap(first["hyphae_frames_emitted_total{pipeline=\"ticker\"}"])
            let sent = try XCTUnwrap(first["hyphae_frames_sent_total{pipeline=\"ticker\"}"])
            XCTAssertGreaterThanOrEqual(emitted, 2)
            XCTAssertGreaterThanOrEqual(sent, 2)
            XCTAssertGreaterThan(first["hyphae_send_latency_seconds_count{pipeline=\"ticker\"}"] ?? 0, 0)

            // The counters move while frames flow.
            _ = try await client.frames("m", count: 3)
            let second = Self.samples(try await host.get("/metrics").body)
            XCTAssertGreaterThan(second["hyphae_frames_emitted_total{pipeline=\"ticker\"}"] ?? 0, emitted)
            XCTAssertGreaterThan(second["hyphae_frames_sent_total{pipeline=\"ticker\"}"] ?? 0, sent)

            try await client.send(type: "close")
            try await client.expectClose(code: 1000)
            let deadline = ContinuousClock.now + .seconds(10)
            var third = Self.samples(try await host.get("/metrics").body)
            while third["hyphae_connections"] != 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(25))
                third = Self.samples(try await host.get("/metrics").body)
            }
            XCTAssertEqual(third["hyphae_connections"], 0)
            XCTAssertEqual(third["hyphae_connections_total"], 1)
            XCTAssertEqual(third["hyphae_connection_closes_total{code=\"1000\"}"], 1)
        }
    }

    func testPipelinesListsParamsPathsInstancesAndCounters() async throws {
        try await withHost { host in
            let listing = try await host.get("/pipelines")
            XCTAssertEqual(listing.status, 200)
            let names = try JSONParser.parse(listing.body).objectValue?["pipelines"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
            XCTAssertEqual(names.map(Set.init), ["ticker", "finite", "limited"])

            let idle = try await host.pipelineStatus("ticker")
            XCTAssertEqual(idle["paths"], ["/ws/ticker"])
            XCTAssertEqual(idle["sharing"], "shared")
            XCTAssertEqual(idle["finite"], false)
            XCTAssertEqual(idle["instances"], [])
            XCTAssertEqual(idle["subscribers"]?.intValue, 0)
            XCTAssertEqual(idle["description"], "an endless counter")
            XCTAssertFalse(idle["version"]?.stringValue?.isEmpty ?? true)
            XCTAssertTrue(idle["file"]?.stringValue?.hasSuffix("ticker.yaml") ?? false)
            let params = try XCTUnwrap(idle["params"]?.objectValue)
            XCTAssertEqual(params.keys, ["rate", "payload_bytes", "label"])
            XCTAssertEqual(params["rate"]?.objectValue?["type"], "float")
            XCTAssertEqual(params["rate"]?.objectValue?["default"]?.numberValue, 50)

            let first = try await host.connect()
            let second = try await host.connect()
            try await first.subscribeSucceeding("p", to: "ticker", params: ["rate": 200])
            try await second.subscribeSucceeding("q", to: "ticker", params: ["rate": 200])
            _ = try await first.frames("p", count: 2)
            _ = try await second.frames("q", count: 2)
            let busy = try await host.pipelineStatus("ticker")
            let instances = try XCTUnwrap(busy["instances"]?.arrayValue)
            XCTAssertEqual(instances.count, 1)
            let instance = try XCTUnwrap(instances.first?.objectValue)
            XCTAssertEqual(instance["subscribers"]?.intValue, 2)
            XCTAssertEqual(instance["params"]?.objectValue?["rate"]?.numberValue, 200)
            XCTAssertTrue(instance["id"]?.stringValue?.hasPrefix("ticker") ?? false)
            XCTAssertEqual(busy["subscribers"]?.intValue, 2)
            let emitted = try XCTUnwrap(busy["frames_emitted"]?.intValue)
            let sent = try XCTUnwrap(busy["frames_sent"]?.intValue)
            XCTAssertGreaterThanOrEqual(emitted, 2)
            XCTAssertGreaterThanOrEqual(sent, 4, "each frame goes to two subscribers")
            XCTAssertLessThanOrEqual(sent, 2 * emitted)
            XCTAssertEqual(busy["frames_dropped"]?.intValue, 0)
        }
    }
}

extension HTTPEndpointTests {
    /// The samples of a Prometheus text page, by name with labels.
    static func samples(_ page: String) -> [String: Int] {
        var samples: [String: Int] = [:]
        for line in page.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let value = line[line.index(after: space)...]
            if let number = Int(value) ?? Double(value).map({ Int($0) }) {
                samples[String(line[..<space])] = number
            }
        }
        return samples
    }
}

extension RunningHost {
    func get(_ path: String, method: String) async throws -> HTTPReply {
        try await HTTPReply.get(host: "127.0.0.1", port: port, path: path, method: method)
    }
}
