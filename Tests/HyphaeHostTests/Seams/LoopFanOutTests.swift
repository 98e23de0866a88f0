import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import NIOCore
import NIOEmbedded
import XCTest

/// ARCHITECTURE.md, The data path: a fan-out hands each frame to the loop's inbox, and
/// the loop's `LoopFanOut` writes it to every subscriber there. Several connections
/// share one embedded loop, whose queued jobs run when the test says.
final class LoopFanOutTests: XCTestCase {
    private let loop = EmbeddedEventLoop()

    func testSubscribersUnderOneStreamIDAreWrittenTheSameBuffer() throws {
        let harness = try DeliveryHarness(loop: loop)
        let second = try DeliveryConnection(loop: loop)
        let third = try DeliveryConnection(loop: loop)
        let fanOut = harness.fanOut.loop(loop)
        fanOut.add(harness.subscribe("dash"))
        fanOut.add(harness.subscribe("dash", on: second))
        fanOut.add(harness.subscribe("solo", on: third))

        harness.fanOut.publish(NumberedFrames.encoded(0))
        XCTAssertEqual(try harness.connection.received(), [], "nothing until the loop runs its job")
        loop.run()

        let first = try XCTUnwrap(harness.connection.channel.readOutbound(as: ByteBuffer.self))
        let again = try XCTUnwrap(second.channel.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(first, again)
        XCTAssertEqual(storageAddress(first), storageAddress(again), "one buffer, built once for the stream id, shared")
        XCTAssertEqual(try ServerFrame(decoding: first).message?.withoutTimestamps, [
            "type": "tick", "stream_id": "dash", "payload": ["stream_id": "dash", "sequence": 0, "count": 1],
        ])
        XCTAssertEqual(try third.received().map { $0.message?.withoutTimestamps }, [[
            "type": "tick", "stream_id": "solo", "payload": ["stream_id": "solo", "sequence": 0, "count": 1],
        ]])
        XCTAssertEqual(harness.fanOut.metrics.framesSent.current, 3)
    }

    func testABatchOfFramesIsFlushedOncePerSocket() throws {
        let harness = try DeliveryHarness(loop: loop)
        let second = try DeliveryConnection(loop: loop)
        let fanOut = harness.fanOut.loop(loop)
        fanOut.add(harness.subscribe("a"))
        fanOut.add(harness.subscribe("b", on: second))
        let flushesBefore = (harness.connection.flushes, second.flushes)

        // Frames that pile up before the loop gets to them go out together.
        for sequence in 0...2 { harness.fanOut.publish(NumberedFrames.encoded(sequence)) }
        loop.run()
        XCTAssertEqual(harness.connection.flushes - flushesBefore.0, 1)
        XCTAssertEqual(second.flushes - flushesBefore.1, 1)
        XCTAssertEqual(try harness.connection.received().map(\.label), ["#0", "#1", "#2"])
        XCTAssertEqual(try second.received().map(\.label), ["#0", "#1", "#2"])

        // A lone frame is written and flushed in one pass.
        harness.fanOut.publish(NumberedFrames.encoded(3))
        loop.run()
        XCTAssertEqual(harness.connection.flushes - flushesBefore.0, 2)
        XCTAssertEqual(second.flushes - flushesBefore.1, 2)
        XCTAssertEqual(try harness.connection.received().map(\.label), ["#3"])
        XCTAssertEqual(try second.received().map(\.label), ["#3"])
    }

    func testASubscriberWhoseSocketIsFullHoldsNoOneElseBack() throws {
        let harness = try DeliveryHarness(loop: loop)
        let reader = try DeliveryConnection(loop: loop)
        let fanOut = harness.fanOut.loop(loop)
        let stalled = harness.subscribe("a", capacity: 10)
        fanOut.add(stalled)
        fanOut.add(harness.subscribe("a", on: reader))
        harness.connection.isWritable = false

        for sequence in 0...1 { harness.fanOut.publish(NumberedFrames.encoded(sequence)) }
        loop.run()
        XCTAssertEqual(try reader.received().map(\.label), ["#0", "#1"])
        XCTAssertEqual(stalled.queuedCount, 2)
        XCTAssertEqual(harness.fanOut.metrics.queuedFrames.current, 2, "the gauge shows the waiting frames")
        XCTAssertTrue(harness.fanOut.gate.isOpen, "a full socket never holds the producer, except under block")
    }

    func testStreamEndFollowsEveryFramePublishedBeforeIt() throws {
        let harness = try DeliveryHarness(loop: loop)
        let subscription = harness.subscribe("a")
        harness.fanOut.loop(loop).add(subscription)
        for sequence in 0...1 { harness.fanOut.publish(NumberedFrames.encoded(sequence)) }
        harness.fanOut.forEachSubscriptionAfterWaitingFrames { $0.notify(.ended(.complete, message: "the stream is complete")) }
        loop.run()
        let received = try harness.connection.received()
        XCTAssertEqual(received.map(\.label), ["#0", "#1", "stream_end"])
        XCTAssertEqual(received.last?.message?.payload["packets_sent"], 2)
        XCTAssertEqual(harness.owner.ended, ["a"])
    }

    func testTheProducerWaitsWhileSixteenFramesWaitForTheLoop() throws {
        let harness = try DeliveryHarness(loop: loop)
        harness.fanOut.loop(loop).add(harness.subscribe("a"))
        for sequence in 0..<15 { harness.fanOut.publish(NumberedFrames.encoded(sequence)) }
        XCTAssertTrue(harness.fanOut.gate.isOpen)
        harness.fanOut.publish(NumberedFrames.encoded(15))
        XCTAssertFalse(harness.fanOut.gate.isOpen, "16 frames not yet taken by the loop")
        loop.run()
        XCTAssertTrue(harness.fanOut.gate.isOpen)
        XCTAssertEqual(try harness.connection.received().count, 16)
    }

    private func storageAddress(_ buffer: ByteBuffer) -> UnsafeRawPointer? {
        buffer.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
    }
}
