import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeProtocol
import HyphaeTesting
import XCTest

/// PROTOCOL.md, Resume (ext): a subscriber that reconnects with `since` gets the frames
/// it missed when the instance still holds them, with no gap and no duplicate.
final class ResumeTests: XCTestCase {
    /// A ticker whose instance keeps at most `historyFrames` frames.
    private static func ticker(historyFrames: Int) -> String {
        """
        name: keeper
        description: an endless counter with a short history
        params:
          rate: { type: float, default: 200, min: 0.1, max: 10000 }
        source:
          type: ticker
          rate: ${rate}
        sinks:
          - type: websocket
            path: /ws/keeper
            history: { frames: \(historyFrames), seconds: 600 }
        """
    }

    private static let pipelines = PipelineFixtures.standard.merging(["keeper": ticker(historyFrames: 20)]) { $1 }

    func testAClientThatMissedFiftyFramesGetsThemAllThenLiveFramesWithNoGapAndNoDuplicate() async throws {
        try await withHost { host in
            // Another subscriber keeps the instance running while the first is away.
            let keeper = try await host.connect()
            try await keeper.subscribeSucceeding("keep", to: "ticker", params: ["rate": 200])
            let client = try await host.connect()
            let success = try await client.subscribeSucceeding("mine", to: "ticker", params: ["rate": 200])
            let epoch = try XCTUnwrap(success.payload["epoch"]?.stringValue, success.text)
            XCTAssertNotNil(success.int("sequence"), success.text)
            XCTAssertNil(success.payload["recovered"], "no since, no recovered: \(success.text)")
            let before = try await client.frames("mine", count: 5)
            let last = try XCTUnwrap(before.last?.sequence)
            await client.disconnect()

            // The stream goes on: wait until the keeper has seen 50 frames after `last`.
            while try await keeper.frames("keep", count: 1).last?.sequence ?? 0 < last + 50 {}

            let again = try await host.connect()
            try await again.send(type: "subscribe", payload: [
                "stream_id": "mine", "stream_type": "ticker", "params": ["rate": 200],
                "since": ["epoch": .string(epoch), "sequence": .int(last)],
            ])
            let resumed = try await again.expect("subscribe_success")
            XCTAssertEqual(resumed.payload["recovered"], .bool(true), resumed.text)
            XCTAssertEqual(resumed.payload["epoch"]?.stringValue, epoch, "one instance, one epoch")
            XCTAssertNil(resumed.payload["missed"], resumed.text)
            let latest = try XCTUnwrap(resumed.int("sequence"))
            XCTAssertGreaterThanOrEqual(latest - last, 50, "it missed at least 50 frames")
            // Every frame after `last`: the replayed ones up to `latest`, then 20 live ones.
            let received = try await again.frames("mine", count: latest - last + 20).map { try XCTUnwrap($0.sequence) }
            XCTAssertEqual(received, Array((last + 1)...(latest + 20)), "in order, no gap, no duplicate")
        }
    }

    func testAClientThatMissedMoreThanTheHistoryIsToldHowManyAndGetsLiveFrames() async throws {
        try await withHost(pipelines: Self.pipelines) { host in
            let keeper = try await host.connect("/ws/keeper")
            try await keeper.subscribeSucceeding("keep")
            let client = try await host.connect("/ws/keeper")
            let success = try await client.subscribeSucceeding("mine")
            let epoch = try XCTUnwrap(success.payload["epoch"]?.stringValue)
            let recent = try await client.frames("mine", count: 3)
            let last = try XCTUnwrap(recent.last?.sequence)
            await client.disconnect()
            // More than the 20 frames the history holds.
            while try await keeper.frames("keep", count: 1).last?.sequence ?? 0 < last + 40 {}

            let again = try await host.connect("/ws/keeper")
            try await again.send(type: "subscribe", payload: ["stream_id": "mine", "since": ["epoch": .string(epoch), "sequence": .int(last)]])
            let resumed = try await again.expect("subscribe_success")
            XCTAssertEqual(resumed.payload["recovered"], .bool(false), resumed.text)
            let latest = try XCTUnwrap(resumed.int("sequence"))
            XCTAssertEqual(resumed.int("missed"), latest - last, "every frame after since up to the latest: \(resumed.text)")
            // Nothing replayed: live frames follow, from the one after the latest.
            let live = try await again.frames("mine", count: 5).map { try XCTUnwrap($0.sequence) }
            XCTAssertEqual(live, Array((latest + 1)...(latest + 5)), resumed.text)
        }
    }

    func testAClientWithinAShortHistoryIsRecoveredAndAWrongEpochIsNot() async throws {
        try await withHost(pipelines: Self.pipelines) { host in
            let keeper = try await host.connect("/ws/keeper")
            let kept = try await keeper.subscribeSucceeding("keep")
            let epoch = try XCTUnwrap(kept.payload["epoch"]?.stringValue)
            let recent = try await keeper.frames("keep", count: 30)
            let last = try XCTUnwrap(recent.last?.sequence)

            let client = try await host.connect("/ws/keeper")
            // The last 10 frames are well within the 20 held, unless the host is very slow to answer.
            try await client.send(type: "subscribe", payload: ["stream_id": "a", "since": ["epoch": .string(epoch), "sequence": .int(last - 10)]])
            let recovered = try await client.expect("subscribe_success")
            if recovered.payload["recovered"] == .bool(true) {
                let latest = try XCTUnwrap(recovered.int("sequence"))
                let received = try await client.frames("a", count: latest - last + 15).map { try XCTUnwrap($0.sequence) }
                XCTAssertEqual(received, Array((last - 9)...(latest + 5)))
            } else {
                // The history moved on in between: then it must say by how much.
                XCTAssertGreaterThan(try XCTUnwrap(recovered.int("missed")), 20, recovered.text)
            }

            try await client.send(type: "subscribe", payload: ["stream_id": "b", "since": ["epoch": "0123456789abcdef", "sequence": .int(last)]])
            let wrongEpoch = try await client.expect("subscribe_success")
            XCTAssertEqual(wrongEpoch.payload["recovered"], .bool(false), wrongEpoch.text)
            XCTAssertNil(wrongEpoch.payload["missed"], "another run's sequence says nothing about this one's: \(wrongEpoch.text)")
            XCTAssertEqual(wrongEpoch.payload["epoch"]?.stringValue, epoch)
            let latest = try XCTUnwrap(wrongEpoch.int("sequence"))
            let live = try await client.frames("b", count: 3).map { try XCTUnwrap($0.sequence) }
            XCTAssertEqual(live, Array((latest + 1)...(latest + 3)))

            // A sequence the stream has not reached is not recovered either.
            try await client.send(type: "subscribe", payload: ["stream_id": "c", "since": ["epoch": .string(epoch), "sequence": .int(latest + 1_000_000)]])
            let ahead = try await client.expect("subscribe_success")
            XCTAssertEqual(ahead.payload["recovered"], .bool(false), ahead.text)
        }
    }

    func testANewInstanceHasANewEpochSoAnOldOneIsNotRecovered() async throws {
        try await withHost { host in
            let client = try await host.connect()
            let first = try await client.subscribeSucceeding("one", to: "ticker", params: ["label": "epochs"])
            let epoch = try XCTUnwrap(first.payload["epoch"]?.stringValue)
            let recent = try await client.frames("one", count: 3)
            let last = try XCTUnwrap(recent.last?.sequence)
            _ = try await client.unsubscribe("one")
            // Its last subscriber gone, the instance stops; the next subscriber starts another run.
            try await host.waitForPipelineStatus("ticker", what: "the instance to stop") { ($0["instances"]?.arrayValue ?? []).isEmpty }
            try await client.send(type: "subscribe", payload: [
                "stream_id": "two", "stream_type": "ticker", "params": ["label": "epochs"],
                "since": ["epoch": .string(epoch), "sequence": .int(last)],
            ])
            let second = try await client.expect("subscribe_success")
            XCTAssertEqual(second.payload["recovered"], .bool(false), second.text)
            XCTAssertNotEqual(second.payload["epoch"]?.stringValue, epoch, "a new run, a new epoch")
            XCTAssertEqual(second.int("sequence"), -1, "nothing sent yet: \(second.text)")
            let live = try await client.frames("two", count: 2).map { try XCTUnwrap($0.sequence) }
            XCTAssertEqual(live, [0, 1])
        }
    }

    func testBadSinceShapesAreRefusedWithSubscribeErrorWhileAnotherClientIsServed() async throws {
        try await withHost { host in
            let other = try await host.connect()
            try await other.subscribeSucceeding("other", to: "ticker", params: ["rate": 200])
            let client = try await host.connect()
            let tooLong = String(repeating: "e", count: ResumePoint.maxEpochLength + 1)
            let bad: [(JSONValue, String)] = [
                ("yesterday", "since must be an object"),
                (.array([.int(1)]), "since must be an object"),
                (["sequence": 3], "since.epoch must be a string"),
                (["epoch": 7, "sequence": 3], "since.epoch must be a string"),
                (["epoch": "", "sequence": 3], "since.epoch must be 1 to 64"),
                (["epoch": .string(tooLong), "sequence": 3], "since.epoch must be 1 to 64"),
                (["epoch": "a b", "sequence": 3], "since.epoch must be 1 to 64"),
                (["epoch": "abc"], "since.sequence must be an integer"),
                (["epoch": "abc", "sequence": "3"], "since.sequence must be an integer"),
                (["epoch": "abc", "sequence": 1.5], "since.sequence must be an integer"),
                (["epoch": "abc", "sequence": -2], "since.sequence must be an integer"),
                (["epoch": "abc", "sequence": .double(1e300)], "since.sequence must be an integer"),
                (["epoch": "abc", "sequence": .int(ResumePoint.maxSequence + 1)], "since.sequence must be an integer"),
            ]
            for (since, expected) in bad {
                try await client.send(type: "subscribe", payload: ["stream_id": "s", "stream_type": "ticker", "since": since])
                let refusal = try await client.expectFailure("subscribe_failed", code: "SUBSCRIBE_ERROR")
                XCTAssertTrue(refusal.errorMessage.hasPrefix(expected), "since \(since.jsonText): \(refusal.text)")
                XCTAssertEqual(refusal.streamID, "s")
            }
            try await client.send(type: "subscribe", payload: ["stream_id": "s", "stream_type": "ticker", "stream_status": "yes"])
            let refusal = try await client.expectFailure("subscribe_failed", code: "SUBSCRIBE_ERROR")
            XCTAssertTrue(refusal.errorMessage.hasPrefix("stream_status must be true or false"), refusal.text)
            // The connection is still usable, and the other client was served all along.
            try await client.subscribeSucceeding("s", to: "ticker", params: ["rate": 200])
            let frames = try await other.frames("other", count: 20).map { try XCTUnwrap($0.sequence) }
            XCTAssertEqual(try missingSequences(frames), 0)
        }
    }

    func testHistoryIsValidatedWhenThePipelineIsLoaded() {
        let (defaults, none) = readConfiguration(WebSocketSinkConfiguration.self, yaml: "path: /ws/x")
        XCTAssertTrue(none.isEmpty, "\(none)")
        XCTAssertEqual(defaults.historyFrames, WebSocketSinkConfiguration.defaultHistoryFrames)
        XCTAssertEqual(defaults.historyMaxBytes, WebSocketSinkConfiguration.defaultHistoryMaxBytes)
        let (_, problems) = readConfiguration(WebSocketSinkConfiguration.self, yaml: """
            path: /ws/x
            history: { frames: -1, seconds: 7200, max_bytes: 1073741824, framez: 3 }
            """)
        let text = problems.map(\.description).joined(separator: "\n")
        for field in ["history.frames", "history.seconds", "history.max_bytes", "history.framez"] {
            XCTAssertTrue(text.contains(field), "\(field) in:\n\(text)")
        }
        let (_, notAMapping) = readConfiguration(WebSocketSinkConfiguration.self, yaml: "path: /ws/x\nhistory: 100")
        XCTAssertTrue(notAMapping.map(\.description).joined().contains("expected a mapping"), "\(notAMapping)")
    }
}
