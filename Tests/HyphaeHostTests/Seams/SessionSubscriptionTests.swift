import HyphaeCore
@testable import HyphaeHost
import NIOCore
import XCTest

/// PROTOCOL.md, subscribe and data frames: subscriptions that start a real pipeline,
/// through one `ProtocolSession` on an `NIOAsyncTestingChannel`.
final class SessionSubscriptionTests: XCTestCase {
    /// The fixture `counted` at rate 0: three frames as fast as the loop takes them, then the end.
    private static let threeFrames: JSONObject = ["stream_id": "c-1", "stream_type": "counted", "params": ["count": 3, "rate": 0]]

    func testASubscriptionGetsItsReplyEveryFrameInOrderAndStreamEnd() async throws {
        let session = try await AsyncSession.start()
        try await session.send(type: "subscribe", payload: Self.threeFrames)
        let version = try XCTUnwrap(session.host.pipeline(named: "counted")?.version)
        let success = try await session.next()
        // A run of its own: a fresh epoch (PROTOCOL.md, Resume), and no frame before this subscriber's first.
        let epoch = try XCTUnwrap(success.message?.payload["epoch"]?.stringValue)
        XCTAssertEqual(epoch.utf8.count, 16)
        assertMessage(success, [
            "type": "subscribe_success", "stream_id": "c-1",
            "payload": [
                "stream_type": "counted", "params": ["count": 3, "rate": 0.0, "payload_bytes": 0], "pipeline_version": .string(version),
                "epoch": .string(epoch), "sequence": -1,
            ],
        ])
        for sequence in 0..<3 {
            let frame = try await session.next()
            assertMessage(frame, [
                "type": "tick", "stream_id": "c-1",
                "payload": ["stream_id": "c-1", "sequence": .int(sequence), "count": .int(sequence + 1)],
            ])
            XCTAssertEqual(frame.message?["timestamp"], frame.message?.payload["timestamp"], "when the frame was made, in envelope and payload")
        }
        assertMessage(try await session.next(), [
            "type": "stream_end", "stream_id": "c-1",
            "payload": ["reason": "complete", "message": "the stream is complete", "packets_sent": 3, "dropped_frames": 0],
        ])
        // The stream is over, so its id is free: nothing is left to unsubscribe.
        try await session.send(type: "unsubscribe", payload: ["stream_id": "c-1"])
        let unsubscribed = try await session.next()
        XCTAssertEqual(unsubscribed.message?.errorCode, "UNKNOWN_STREAM_ID")
        try await session.finish()
    }

    func testAStreamIDInUseIsDuplicateStreamID() async throws {
        let session = try await AsyncSession.start()
        try await session.send(type: "subscribe", payload: ["stream_id": "a", "stream_type": "ticker", "params": ["rate": 0.1]])
        let first = try await session.nextReply()
        XCTAssertEqual(first.message?.type, "subscribe_success")
        try await session.send(type: "subscribe", payload: ["stream_id": "a", "stream_type": "finite"])
        assertMessage(try await session.nextReply(), [
            "type": "subscribe_failed", "stream_id": "a",
            "payload": [
                "error_code": "DUPLICATE_STREAM_ID",
                "message": "this connection already has a subscription 'a'; choose another stream_id or unsubscribe first",
            ],
        ])
        try await session.finish()
    }

    func testSubscriptionsPastTheLimitAreTooManySubscriptions() async throws {
        let session = try await AsyncSession.start(configure: { $0.maxSubscriptionsPerConnection = 2 })
        for id in ["a", "b"] {
            try await session.send(type: "subscribe", payload: ["stream_id": .string(id), "stream_type": "ticker", "params": ["rate": 0.1]])
            let reply = try await session.nextReply()
            XCTAssertEqual(reply.message?.type, "subscribe_success", "for \(id)")
        }
        try await session.send(type: "subscribe", payload: ["stream_id": "c", "stream_type": "ticker"])
        assertMessage(try await session.nextReply(), [
            "type": "subscribe_failed", "stream_id": "c",
            "payload": ["error_code": "TOO_MANY_SUBSCRIPTIONS", "message": "a connection may hold 2 subscriptions; unsubscribe from one first"],
        ])
        // Leaving one makes room again.
        try await session.send(type: "unsubscribe", payload: ["stream_id": "a"])
        let unsubscribed = try await session.nextReply()
        XCTAssertEqual(unsubscribed.message?.type, "unsubscribe")
        try await session.send(type: "subscribe", payload: ["stream_id": "c", "stream_type": "ticker", "params": ["rate": 0.1]])
        let admitted = try await session.nextReply()
        XCTAssertEqual(admitted.message?.type, "subscribe_success")
        try await session.finish()
    }
}
