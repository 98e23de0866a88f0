import HyphaeClient
import HyphaeCore
@testable import HyphaeHost
import HyphaeTesting
import XCTest

/// The fan-out's inbox gathers the frames a loop has not taken yet, and the loop writes
/// them out together: batching must never reorder, lose or repeat a frame.
final class FanOutBatchingTests: XCTestCase {
    private func encoded(_ sequence: Int) -> PublishedFrame {
        var encoder = FrameEncoder()
        return PublishedFrame(encoded: encoder.encode(Frame(type: "tick", payload: ["n": .int(sequence)], sequence: sequence)), deflated: nil)
    }

    func testOnlyTheFirstFrameIntoAnIdleInboxSchedulesATake() {
        let inbox = FrameInbox()
        XCTAssertTrue(inbox.append(encoded(0)), "an idle inbox needs a job")
        XCTAssertFalse(inbox.append(encoded(1)), "the pending job will take this one too")
        XCTAssertFalse(inbox.append(encoded(2)))
        var batch: [PublishedFrame] = []
        inbox.take(into: &batch)
        XCTAssertEqual(batch.map(\.encoded.sequence), [0, 1, 2], "taken oldest first")
        XCTAssertTrue(inbox.append(encoded(3)), "after a take the inbox is idle again")
        batch.removeAll(keepingCapacity: true)
        inbox.take(into: &batch)
        XCTAssertEqual(batch.map(\.encoded.sequence), [3])
    }

    func testTakingFromAnInboxWithNothingWaitingGivesNothing() {
        let inbox = FrameInbox()
        var batch: [PublishedFrame] = []
        inbox.take(into: &batch)
        XCTAssertTrue(batch.isEmpty)
        XCTAssertTrue(inbox.append(encoded(0)))
    }

    /// A source with no rate limit outruns the loops, so frames pile up in the inboxes
    /// and go out in batches; every subscriber, whichever loop it is on, still gets its
    /// whole run in order, and `stream_end` counts it.
    func testAnUnpacedRunReachesEverySubscriberCompleteAndInOrder() async throws {
        let pipeline = PipelineFixtures.backpressure(name: "burst", policy: "drop_oldest", queueSize: 100_000, sharing: "per_subscriber")
        try await withHost(pipelines: ["burst": pipeline]) { host in
            let count = 3000
            var clients: [ProtocolClient] = []
            for index in 0..<4 {
                let client = try await host.connect()
                try await client.subscribeSucceeding("run\(index)", to: "burst", params: ["count": .int(count), "rate": 0, "payload_bytes": 64])
                clients.append(client)
            }
            for (index, client) in clients.enumerated() {
                let (frames, end) = try await client.framesUntilStreamEnd("run\(index)")
                XCTAssertEqual(frames.compactMap(\.sequence), Array(0..<count), "subscriber \(index): every frame once, in order")
                XCTAssertEqual(end.payload["packets_sent"]?.intValue, count)
                XCTAssertEqual(end.payload["dropped_frames"]?.intValue, 0)
            }
        }
    }

    /// A batch window holds frames on the loop; `stream_end` must still come after the
    /// last of them, and each frame exactly once.
    func testABatchWindowKeepsEveryFrameAheadOfStreamEnd() async throws {
        let pipeline = """
            name: windowed
            description: a finite counter behind a batch window
            params:
              count: { type: int, default: 40, min: 1, max: 1000 }
            source:
              type: ticker
              rate: 200
              count: ${count}
            sinks:
              - type: websocket
                path: /ws/windowed
                batch_window_ms: 50
            """
        try await withHost(pipelines: ["windowed": pipeline]) { host in
            let client = try await host.connect()
            try await client.subscribeSucceeding("w", to: "windowed")
            let (frames, end) = try await client.framesUntilStreamEnd("w")
            XCTAssertEqual(frames.compactMap(\.sequence), Array(0..<40))
            XCTAssertEqual(end.payload["reason"]?.stringValue, "complete")
            XCTAssertEqual(end.payload["packets_sent"]?.intValue, 40)
        }
    }
}
