import HyphaeClient
import HyphaeCore
import XCTest

/// PROTOCOL.md, Sharing: equal params of an endless pipeline share one instance;
/// a finite pipeline runs once per subscriber.
final class SharingTests: XCTestCase {
    func testEqualParamsShareOneInstanceAndSeeTheSameFrames() async throws {
        try await withHost { host in
            let first = try await host.connect()
            let second = try await host.connect("/ws/ticker")
            try await first.subscribeSucceeding("first", to: "ticker", params: ["rate": 100, "label": "shared"])
            // Let the run go a little before the second joins.
            let early = try await first.frames("first", count: 3)
            // Params given differently but resolving equally (100 vs 100.0, default payload_bytes).
            try await second.subscribeSucceeding("second", params: ["rate": 100.0, "label": "shared", "payload_bytes": 0])
            let secondFrames = try await second.frames("second", count: 5)
            let joinedAt = try XCTUnwrap(secondFrames.first?.sequence)
            XCTAssertGreaterThan(joinedAt, try XCTUnwrap(early.first?.sequence), "the second joined the running instance midway")
            var firstBySequence: [Int: JSONObject] = [:]
            for frame in early { if let sequence = frame.sequence { firstBySequence[sequence] = frame } }
            while (firstBySequence.keys.max() ?? 0) < (secondFrames.last?.sequence ?? 0) {
                for frame in try await first.frames("first", count: 1) {
                    if let sequence = frame.sequence { firstBySequence[sequence] = frame }
                }
            }
            for frame in secondFrames {
                let sequence = try XCTUnwrap(frame.sequence)
                let twin = try XCTUnwrap(firstBySequence[sequence], "the first saw sequence \(sequence) too")
                XCTAssertEqual(frame.payload["count"], twin.payload["count"], "the same frame at sequence \(sequence)")
                XCTAssertEqual(frame.payload["timestamp"], twin.payload["timestamp"], "encoded once, at sequence \(sequence)")
                XCTAssertEqual(frame.payload["stream_id"], "second")
                XCTAssertEqual(twin.payload["stream_id"], "first")
            }
            let status = try await host.pipelineStatus("ticker")
            let instances = try XCTUnwrap(status["instances"]?.arrayValue)
            XCTAssertEqual(instances.count, 1, status.text)
            XCTAssertEqual(instances.first?["subscribers"]?.intValue, 2)
            XCTAssertEqual(status["subscribers"]?.intValue, 2)
            XCTAssertEqual(status["sharing"], "shared")
        }
    }

    func testDifferentParamsRunSeparateInstances() async throws {
        try await withHost { host in
            let first = try await host.connect()
            let second = try await host.connect()
            let third = try await host.connect()
            try await first.subscribeSucceeding("a", to: "ticker", params: ["rate": 100])
            try await second.subscribeSucceeding("b", to: "ticker", params: ["rate": 100, "label": "other"])
            try await third.subscribeSucceeding("c", to: "ticker", params: ["rate": 100])
            let status = try await host.pipelineStatus("ticker")
            let instances = try XCTUnwrap(status["instances"]?.arrayValue?.compactMap(\.objectValue))
            XCTAssertEqual(instances.count, 2, status.text)
            XCTAssertEqual(Set(instances.compactMap { $0["id"]?.stringValue }).count, 2)
            let labels = instances.compactMap { $0["params"]?.objectValue?["label"]?.stringValue }.sorted()
            XCTAssertEqual(labels, ["other", "plain"])
            let subscribersByLabel = Dictionary(uniqueKeysWithValues: instances.compactMap { instance -> (String, Int)? in
                guard let label = instance["params"]?.objectValue?["label"]?.stringValue, let count = instance["subscribers"]?.intValue else { return nil }
                return (label, count)
            })
            XCTAssertEqual(subscribersByLabel, ["plain": 2, "other": 1])
            // Each instance numbers its own frames.
            try await assertEqual(await second.frames("b", count: 1).count, 1)
            _ = try await second.unsubscribe("b")
            try await host.waitForPipelineStatus("ticker", what: "the 'other' instance to stop after its last subscriber") {
                $0["instances"]?.arrayValue?.count == 1
            }
        }
    }

    func testAFinitePipelineRunsOncePerSubscriber() async throws {
        try await withHost { host in
            let first = try await host.connect()
            let second = try await host.connect()
            try await first.subscribeSucceeding("x", to: "finite", params: ["count": 40, "rate": 40])
            // The second subscribes while the first's run is under way.
            _ = try await first.frames("x", count: 2)
            try await second.subscribeSucceeding("x", to: "finite", params: ["count": 40, "rate": 40])
            let status = try await host.pipelineStatus("finite")
            XCTAssertEqual(status["sharing"], "per_subscriber")
            XCTAssertEqual(status["finite"], true)
            XCTAssertEqual(status["instances"]?.arrayValue?.count, 2, status.text)
            for client in [second, first] {
                let (frames, end) = try await client.framesUntilStreamEnd("x")
                _ = frames
                XCTAssertEqual(end.payload["reason"], "complete")
                XCTAssertEqual(end.int("packets_sent"), 40)
                XCTAssertEqual(end.int("dropped_frames"), 0)
                XCTAssertNotNil(end["timestamp"]?.numberValue)
                XCTAssertFalse(end.errorMessage.isEmpty, "stream_end carries a message")
            }
            // The second's run started at 0 and ran its full count.
            try await second.subscribeSucceeding("y", to: "finite", params: ["count": 4])
            let (frames, end) = try await second.framesUntilStreamEnd("y")
            XCTAssertEqual(frames.compactMap(\.sequence), [0, 1, 2, 3])
            XCTAssertEqual(frames.compactMap { $0.payload["count"]?.intValue }, [1, 2, 3, 4], "the last frame is delivered")
            XCTAssertEqual(end.int("packets_sent"), 4)
        }
    }

    func testEachFiniteSubscriberSeesTheWholeRunFromZero() async throws {
        try await withHost { host in
            let clients = [try await host.connect(), try await host.connect()]
            for client in clients {
                try await client.subscribeSucceeding("run", to: "finite", params: ["count": 6, "rate": 30])
            }
            for client in clients {
                let (frames, end) = try await client.framesUntilStreamEnd("run")
                XCTAssertEqual(frames.compactMap(\.sequence), Array(0..<6))
                XCTAssertEqual(frames.last?.payload["count"]?.intValue, 6)
                XCTAssertEqual(end.payload["reason"], "complete")
                XCTAssertEqual(end.int("packets_sent"), 6)
                XCTAssertEqual(end.int("dropped_frames"), 0)
            }
            try await host.waitForPipelineStatus("finite", what: "the finished runs to leave the instance list") {
                $0["instances"]?.arrayValue?.isEmpty == true && $0["subscribers"]?.intValue == 0
            }
        }
    }
}
