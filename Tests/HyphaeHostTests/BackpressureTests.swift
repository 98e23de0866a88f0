import HyphaeClient
import HyphaeCore
import HyphaeTesting
import XCTest

/// PROTOCOL.md, Backpressure: each policy against a client that stops reading,
/// while another client of the same pipeline reads normally.
///
/// The runs are finite, so that `stream_end` comes after every frame and its
/// counters can be checked against what arrived: a subscriber that received
/// `received` frames of the `offered` ones the run made after it joined has
/// `dropped_frames == offered - received`, and exactly that many sequence numbers
/// are missing from what it saw.
final class BackpressureTests: XCTestCase {
    /// 400 frames of 20 kB: 8 MB, about twice what the loopback socket buffers held
    /// (some 200 frames) before a stopped reader's queue began to fill, where this was written.
    private static let frameCount = 400
    private static let queueSize = 8
    private static let params: JSONObject = ["count": .int(frameCount), "rate": 1000, "payload_bytes": 20_000]

    private func pipelines(_ policy: String, sharing: String = "shared") -> [String: String] {
        ["bp": PipelineFixtures.backpressure(name: "bp", policy: policy, queueSize: Self.queueSize, sharing: sharing)]
    }

    /// Reads a whole run on the roomy path: every frame, in order, nothing dropped.
    private func assertReceivesEverything(_ client: ProtocolClient, streamID: String, from first: Int = 0) async throws {
        let (frames, end) = try await client.framesUntilStreamEnd(streamID, timeout: .seconds(30))
        let sequences = frames.compactMap(\.sequence)
        XCTAssertEqual(sequences.first, first)
        XCTAssertEqual(sequences.last, Self.frameCount - 1)
        XCTAssertEqual(try missingSequences(sequences), 0, "the normal client lost no frame")
        XCTAssertEqual(end.payload["reason"], "complete")
        XCTAssertEqual(end.int("dropped_frames"), 0)
        XCTAssertEqual(end.int("packets_sent"), frames.count)
    }

    /// The dropping policies: gaps that match `dropped_frames`, and a neighbour that loses nothing.
    private func checkDroppingPolicy(_ policy: String) async throws {
        try await withHost(pipelines: pipelines(policy)) { host in
            let normal = try await host.connect("/ws/bp_roomy")
            try await normal.subscribeSucceeding("normal", params: Self.params)
            let slow = try await host.connect("/ws/bp")
            try await slow.subscribeSucceeding("slow", params: Self.params)
            try await slow.setReading(false)
            let status = try await host.pipelineStatus("bp")
            XCTAssertEqual(status["instances"]?.arrayValue?.count, 1, "both read one shared instance: \(status.text)")

            // The normal client gets the whole run while the slow one reads nothing.
            try await assertReceivesEverything(normal, streamID: "normal")

            try await slow.setReading(true)
            let (frames, end) = try await slow.framesUntilStreamEnd("slow", timeout: .seconds(30))
            let sequences = frames.compactMap(\.sequence)
            let joinedAt = try XCTUnwrap(sequences.first)
            let offered = Self.frameCount - joinedAt
            let dropped = try XCTUnwrap(end.int("dropped_frames"))
            XCTAssertEqual(end.payload["reason"], "complete")
            XCTAssertGreaterThan(dropped, 0, "the slow client's queue overflowed")
            XCTAssertEqual(sequences.last, Self.frameCount - 1, "the last frame of a finite run is kept")
            XCTAssertEqual(try missingSequences(sequences), dropped, "each gap is a dropped frame")
            XCTAssertEqual(frames.count + dropped, offered)
            XCTAssertEqual(end.int("packets_sent"), frames.count, "packets_sent counts what was written")

            let pipeline = try await host.pipelineStatus("bp")
            XCTAssertEqual(pipeline["frames_dropped"]?.intValue, dropped)
            XCTAssertEqual(pipeline["frames_emitted"]?.intValue, Self.frameCount)
            let metrics = try await host.get("/metrics").body
            XCTAssertTrue(
                metrics.contains("hyphae_frames_dropped_total{pipeline=\"bp\",policy=\"\(policy)\"} \(dropped)\n"),
                "the drops are counted under \(policy)")
        }
    }

    func testDropOldest() async throws {
        try await checkDroppingPolicy("drop_oldest")
    }

    func testDropNewest() async throws {
        try await checkDroppingPolicy("drop_newest")
    }

    func testCompress() async throws {
        try await checkDroppingPolicy("compress")
    }

    func testCloseDisconnectsTheSlowConsumerWith4008() async throws {
        try await withHost(pipelines: pipelines("close")) { host in
            let normal = try await host.connect("/ws/bp_roomy")
            try await normal.subscribeSucceeding("normal", params: Self.params)
            let slow = try await host.connect("/ws/bp")
            try await slow.subscribeSucceeding("slow", params: Self.params)
            try await slow.setReading(false)
            // The overflow closes the connection; read before the close's grace period ends.
            try await host.waitForPipelineStatus("bp", what: "the slow consumer's queue to overflow") {
                ($0["frames_dropped"]?.intValue ?? 0) > 0
            }
            try await slow.setReading(true)
            let before = try await slow.expectClose(code: 4008, timeout: .seconds(20))
            XCTAssertFalse(before.contains { $0.type == "stream_end" }, "the connection is closed, not the stream ended")
            try await assertReceivesEverything(normal, streamID: "normal")
            try await host.waitForPipelineStatus("bp", what: "the closed subscriber to be gone") { $0["subscribers"]?.intValue == 0 }
            let metrics = try await host.get("/metrics").body
            XCTAssertTrue(metrics.contains("hyphae_connection_closes_total{code=\"4008\"} 1\n"), metrics)
        }
    }

    func testBlockHoldsTheSourceBackAndLosesNothing() async throws {
        try await withHost(pipelines: pipelines("block", sharing: "per_subscriber")) { host in
            let slow = try await host.connect("/ws/bp")
            try await slow.subscribeSucceeding("slow", params: Self.params)
            try await slow.setReading(false)
            // The queue fills up and the run stops short of its count.
            try await host.waitForMetric("hyphae_queue_depth{pipeline=\"bp\"}", atLeast: Self.queueSize)
            let stalled = try await host.pipelineStatus("bp")["frames_emitted"]?.intValue ?? 0
            // Meanwhile a normal client of the same pipeline reads a whole run of its own.
            let normal = try await host.connect("/ws/bp_roomy")
            try await normal.subscribeSucceeding("normal", params: Self.params)
            try await assertReceivesEverything(normal, streamID: "normal")
            let emitted = try await host.pipelineStatus("bp")["frames_emitted"]?.intValue ?? 0
            XCTAssertLessThanOrEqual(
                emitted - Self.frameCount - stalled, 2,
                "while its queue was full the slow run made at most the frames already under way (\(stalled) then \(emitted - Self.frameCount))")
            XCTAssertLessThan(stalled, Self.frameCount, "the slow run could not finish")

            try await slow.setReading(true)
            let (frames, end) = try await slow.framesUntilStreamEnd("slow", timeout: .seconds(30))
            let sequences = frames.compactMap(\.sequence)
            XCTAssertEqual(sequences, Array(0..<Self.frameCount), "no gap at all")
            XCTAssertEqual(end.int("dropped_frames"), 0)
            XCTAssertEqual(end.int("packets_sent"), Self.frameCount)
        }
    }
}
