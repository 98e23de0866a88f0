import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import NIOCore
import XCTest

/// PROTOCOL.md, stream_end and stream_reloaded: what `Subscription.notify` tells a
/// subscriber, and where it stands among the subscription's frames.
final class StreamNoticeTests: XCTestCase {
    /// The time the notices below are stamped with, so that their bytes are exact.
    private static let stamp = 1_764_756_000_400.0

    func testStreamReloadedGoesBehindTheQueuedFramesAndAheadOfLaterOnes() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(holding: [0, 1])
        subscription.notify(.reloaded(pipelineVersion: "7a1c0e93b2f4d615", params: ["rate": 20.0, "payload_bytes": 3]), timestamp: Self.stamp)
        _ = subscription.offer(frame: 2)
        harness.connection.isWritable = true
        XCTAssertEqual(subscription.drain(), 4)
        let received = try harness.connection.flushedFrames()
        XCTAssertEqual(received.map(\.label), ["#0", "#1", "stream_reloaded", "#2"])
        XCTAssertEqual(received[2], .message([
            "type": "stream_reloaded", "stream_id": "s", "timestamp": .double(Self.stamp),
            "payload": ["pipeline_version": "7a1c0e93b2f4d615", "params": ["rate": 20.0, "payload_bytes": 3]],
        ]))
        XCTAssertEqual(subscription.packetsSent, 3, "a notice is not a data frame")
        XCTAssertFalse(subscription.isFinished)
    }

    func testStreamReloadedOnAConnectionThatTakesDataIsWrittenAtOnce() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.subscribe()
        subscription.notify(.reloaded(pipelineVersion: "v2", params: [:]), timestamp: Self.stamp)
        XCTAssertEqual(subscription.queuedCount, 0)
        XCTAssertEqual(try harness.connection.flushedFrames().map(\.label), ["stream_reloaded"])
    }

    func testPipelineRemovedWaitsBehindTheQueuedFramesAndCountsThem() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(policy: .dropOldest, capacity: 3, holding: [0, 1, 2, 3])
        subscription.notify(.ended(.pipelineRemoved, message: "the pipeline 'ticks' was removed"), timestamp: Self.stamp)
        XCTAssertEqual(harness.owner.ended, [], "not over until stream_end is out")
        harness.connection.isWritable = true
        XCTAssertEqual(subscription.drain(), 4)
        let received = try harness.connection.flushedFrames()
        XCTAssertEqual(received.map(\.label), ["#1", "#2", "#3", "stream_end"])
        XCTAssertEqual(received.last, .message([
            "type": "stream_end", "stream_id": "s", "timestamp": .double(Self.stamp),
            "payload": ["reason": "pipeline_removed", "message": "the pipeline 'ticks' was removed", "packets_sent": 3, "dropped_frames": 1],
        ]))
        XCTAssertEqual(subscription.packetsSent, 3)
        XCTAssertEqual(harness.owner.ended, ["s"])
        XCTAssertEqual(subscription.offer(frame: 4), .refused)
    }

    func testServerShutdownDiscardsTheQueueAndIsWrittenAtOnceEvenToAFullSocket() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.subscribe(policy: .dropOldest, capacity: 10)
        XCTAssertEqual(subscription.offer(frame: 0), .written)
        harness.connection.isWritable = false
        _ = subscription.offer(frame: 1)
        _ = subscription.offer(frame: 2)
        subscription.notify(.ended(.serverShutdown, message: "the server is shutting down; reconnect later"), timestamp: Self.stamp)
        XCTAssertEqual(subscription.queuedCount, 0)
        let received = try harness.connection.flushedFrames()
        XCTAssertEqual(received.map(\.label), ["#0", "stream_end"])
        XCTAssertEqual(received.last, .message([
            "type": "stream_end", "stream_id": "s", "timestamp": .double(Self.stamp),
            "payload": ["reason": "server_shutdown", "message": "the server is shutting down; reconnect later", "packets_sent": 1, "dropped_frames": 0],
        ]))
        XCTAssertEqual(harness.owner.ended, ["s"])
    }

    func testAFailedStreamSendsStreamErrorThenStreamEndInOrderWithItsFrames() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(holding: [0])
        subscription.notify(.failed(message: "the source failed: boom"), timestamp: Self.stamp)
        harness.connection.isWritable = true
        XCTAssertEqual(subscription.drain(), 3)
        let received = try harness.connection.flushedFrames()
        XCTAssertEqual(received.map(\.label), ["#0", "error", "stream_end"])
        XCTAssertEqual(received[1], .message([
            "type": "error", "stream_id": "s", "timestamp": .double(Self.stamp),
            "payload": ["error_code": "STREAM_ERROR", "message": "the source failed: boom", "timestamp": .double(Self.stamp)],
        ]))
        // Its packets_sent is left to the next test.
        let streamEnd = received[2].message
        XCTAssertEqual(streamEnd?.streamID, "s")
        XCTAssertEqual(streamEnd?.payload.keys, ["reason", "message", "packets_sent", "dropped_frames"])
        XCTAssertEqual(streamEnd?.payload["reason"], "error")
        XCTAssertEqual(streamEnd?.payload["message"], "the source failed: boom")
        XCTAssertEqual(streamEnd?.payload["dropped_frames"], 0)
        XCTAssertEqual(harness.owner.ended, ["s"])
    }

    /// PROTOCOL.md: "`packets_sent` counts the data frames written to this subscription".
    /// A notice still queued ahead of `stream_end` (`error`, `stream_reloaded`) is not one.
    func testStreamEndCountsTheDataFramesAheadOfItButNotTheNotices() throws {
        let notices: [(String, (Subscription) -> Void)] = [
            ("failed", { $0.notify(.failed(message: "boom"), timestamp: Self.stamp) }),
            ("reloaded, then removed", {
                $0.notify(.reloaded(pipelineVersion: "v2", params: [:]), timestamp: Self.stamp)
                $0.notify(.ended(.pipelineRemoved, message: "removed"), timestamp: Self.stamp)
            }),
        ]
        for (name, notify) in notices {
            let harness = try DeliveryHarness()
            let subscription = harness.stalledSubscription(holding: [0])
            notify(subscription)
            harness.connection.isWritable = true
            _ = subscription.drain()
            let streamEnd = try harness.connection.flushedFrames().last
            XCTAssertEqual(streamEnd?.message?.type, "stream_end", name)
            XCTAssertEqual(streamEnd?.message?.payload["packets_sent"], 1, "\(name): one data frame reached the client")
            XCTAssertEqual(subscription.packetsSent, 1, name)
        }
    }

    /// The bytes on the wire: PROTOCOL.md's `stream_end` example, compact, in one text frame.
    func testStreamEndIsTheFrameProtocolMDShows() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.subscribe("c-1")
        for sequence in 0...3 { _ = subscription.offer(frame: sequence) }
        subscription.notify(.ended(.complete, message: "the stream is complete"), timestamp: Self.stamp)
        harness.connection.output.flush()
        for _ in 0...3 { _ = try harness.connection.channel.readOutbound(as: ByteBuffer.self) }
        let text = #"{"type":"stream_end","stream_id":"c-1","timestamp":1764756000400.0,"payload":{"reason":"complete","message":"the stream is complete","packets_sent":4,"dropped_frames":0}}"#
        let length = text.utf8.count
        XCTAssertEqual(length, 170, "a payload of 126 bytes or more takes the 16-bit length")
        let expected: [UInt8] = [0x81, 126, UInt8(length >> 8), UInt8(length & 0xFF)] + Array(text.utf8)
        let written = try XCTUnwrap(harness.connection.channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(Array(written.readableBytesView), expected, String(decoding: written.readableBytesView, as: UTF8.self))
    }

    /// A stream ends while its pipeline may still publish (`pipeline_removed` is queued
    /// before the run is stopped). Whatever is offered after that must neither reach the
    /// client after its `stream_end` nor take away a frame that `stream_end` counted.
    func testFramesOfferedAfterStreamEndIsQueuedChangeNothingTheClientSees() throws {
        for policy in BackpressurePolicy.allCases {
            let harness = try DeliveryHarness()
            let subscription = harness.stalledSubscription(policy: policy, capacity: 3, holding: [0, 1])
            subscription.notify(.ended(.pipelineRemoved, message: "removed"), timestamp: Self.stamp)
            _ = subscription.offer(frame: 2)
            harness.connection.isWritable = true
            _ = subscription.drain()
            let received = try harness.connection.flushedFrames()
            XCTAssertEqual(received.map(\.label), ["#0", "#1", "stream_end"], "under \(policy)")
            XCTAssertEqual(received.last?.message?.payload["packets_sent"], 2, "under \(policy)")
            XCTAssertEqual(received.last?.message?.payload["dropped_frames"], 0, "under \(policy)")
            XCTAssertEqual(harness.owner.slowConsumers, [], "under \(policy): the stream had ended, nothing overflowed")
        }
    }
}
