@testable import HyphaeHost
import HyphaeProtocol
import XCTest

/// PROTOCOL.md, Backpressure: each policy of a subscription's bounded queue, at the
/// Delivery layer, over a connection whose writability the test sets as the session
/// does when the socket fills. Frames are numbered, so the queue's contents show in
/// what reaches the socket once it drains.
final class BackpressurePolicyTests: XCTestCase {
    // MARK: Writing and queueing

    func testAFrameGoesStraightOutWhileTheSocketTakesDataAndNothingWaits() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.subscribe(policy: .dropOldest, capacity: 3)
        XCTAssertEqual(subscription.offer(frame: 0), .written)
        XCTAssertEqual(subscription.queuedCount, 0)
        XCTAssertEqual(subscription.packetsSent, 1)
        XCTAssertEqual(try harness.connection.flushedFrames(), [.message([
            "type": "tick", "stream_id": "s", "timestamp": 1_764_756_000_000.0,
            "payload": ["stream_id": "s", "sequence": 0, "timestamp": 1_764_756_000_000.0, "count": 1],
        ])])
    }

    func testFramesWaitInOrderWhileTheSocketIsFullAndLaterOnesQueueBehindThem() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.subscribe(policy: .dropOldest, capacity: 3)
        harness.connection.isWritable = false
        XCTAssertEqual(subscription.offer(frame: 0), .queued(dropping: 0))
        XCTAssertEqual(try harness.connection.flushedFrames(), [], "nothing reaches a socket that takes no data")
        harness.connection.isWritable = true
        // Writable again, but a frame still waits: the new one goes behind it.
        XCTAssertEqual(subscription.offer(frame: 1), .queued(dropping: 0))
        XCTAssertEqual(subscription.drain(), 2)
        XCTAssertEqual(try harness.connection.flushedFrames().map(\.label), ["#0", "#1"])
        XCTAssertEqual(subscription.packetsSent, 2)
        XCTAssertEqual(harness.fanOut.metrics.framesSent.current, 2, "frames that waited count as sent when written")
    }

    // MARK: drop_oldest

    func testDropOldestDiscardsTheOldestQueuedFrame() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.subscribe(policy: .dropOldest, capacity: 3)
        harness.connection.isWritable = false
        XCTAssertEqual((0...4).map { subscription.offer(frame: $0) }, [
            .queued(dropping: 0), .queued(dropping: 0), .queued(dropping: 0), .queued(dropping: 1), .queued(dropping: 1),
        ])
        XCTAssertEqual(subscription.droppedFrames, 2)
        XCTAssertEqual(subscription.queuedCount, 3)
        XCTAssertEqual(try drained(subscription, harness), ["#2", "#3", "#4"])
        XCTAssertEqual(subscription.packetsSent, 3)
    }

    func testDropOldestKeepsEssentialFramesAndDropsTheOldestOtherOne() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(policy: .dropOldest, capacity: 3, holding: [0, 1, 2], essential: [0])
        XCTAssertEqual(subscription.offer(frame: 3), .queued(dropping: 1))
        XCTAssertEqual(try drained(subscription, harness), ["#0", "#2", "#3"])
        XCTAssertEqual(subscription.droppedFrames, 1)
    }

    func testDropOldestWithOnlyEssentialFramesQueuedDropsANewFrameAndQueuesANewEssentialOne() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(policy: .dropOldest, capacity: 3, holding: [0, 1, 2], essential: [0, 1, 2])
        XCTAssertEqual(subscription.offer(frame: 3), .droppedOnArrival)
        XCTAssertEqual(subscription.offer(frame: 4, essential: true), .queued(dropping: 0))
        XCTAssertEqual(subscription.queuedCount, 4, "an essential frame goes in beyond the capacity")
        XCTAssertEqual(subscription.droppedFrames, 1)
        XCTAssertEqual(try drained(subscription, harness), ["#0", "#1", "#2", "#4"])
    }

    // MARK: drop_newest

    func testDropNewestDiscardsTheNewFrame() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.subscribe(policy: .dropNewest, capacity: 3)
        harness.connection.isWritable = false
        XCTAssertEqual((0...4).map { subscription.offer(frame: $0) }, [
            .queued(dropping: 0), .queued(dropping: 0), .queued(dropping: 0), .droppedOnArrival, .droppedOnArrival,
        ])
        XCTAssertEqual(subscription.droppedFrames, 2)
        XCTAssertEqual(try drained(subscription, harness), ["#0", "#1", "#2"])
        XCTAssertEqual(subscription.packetsSent, 3)
    }

    func testDropNewestGivenAnEssentialFrameDiscardsTheNewestOtherQueuedFrame() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(policy: .dropNewest, capacity: 3, holding: [0, 1, 2], essential: [2])
        XCTAssertEqual(subscription.offer(frame: 3, essential: true), .queued(dropping: 1))
        XCTAssertEqual(subscription.offer(frame: 4, essential: true), .queued(dropping: 1))
        XCTAssertEqual(subscription.droppedFrames, 2)
        XCTAssertEqual(try drained(subscription, harness), ["#2", "#3", "#4"])
    }

    func testDropNewestWithOnlyEssentialFramesQueuedStillQueuesAnEssentialOne() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(policy: .dropNewest, capacity: 2, holding: [0, 1], essential: [0, 1])
        XCTAssertEqual(subscription.offer(frame: 2, essential: true), .queued(dropping: 0))
        XCTAssertEqual(subscription.offer(frame: 3), .droppedOnArrival)
        XCTAssertEqual(subscription.droppedFrames, 1)
        XCTAssertEqual(try drained(subscription, harness), ["#0", "#1", "#2"])
    }

    // MARK: compress

    func testCompressKeepsEveryOtherQueuedFrameOldestFirstThenTheNewOne() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.subscribe(policy: .compress, capacity: 4)
        harness.connection.isWritable = false
        for sequence in 0...3 { XCTAssertEqual(subscription.offer(frame: sequence), .queued(dropping: 0)) }
        XCTAssertEqual(subscription.offer(frame: 4), .queued(dropping: 2))
        XCTAssertEqual(subscription.droppedFrames, 2)
        XCTAssertEqual(try drained(subscription, harness), ["#0", "#2", "#4"])
        XCTAssertEqual(subscription.packetsSent, 3)
    }

    func testCompressKeepsEssentialFramesWhereverTheyStand() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(policy: .compress, capacity: 4, holding: [0, 1, 2, 3], essential: [1])
        XCTAssertEqual(subscription.offer(frame: 4), .queued(dropping: 1))
        XCTAssertEqual(try drained(subscription, harness), ["#0", "#1", "#2", "#4"])
        XCTAssertEqual(subscription.droppedFrames, 1)
    }

    // MARK: close

    func testCloseDiscardsTheWholeQueueAndReportsASlowConsumer() throws {
        let harness = try DeliveryHarness()
        let subscription = harness.stalledSubscription(policy: .close, capacity: 3, holding: [0, 1, 2], essential: [0])
        XCTAssertEqual(harness.owner.slowConsumers, [])
        XCTAssertEqual(subscription.offer(frame: 3), .overflowed(dropping: 3))
        XCTAssertEqual(subscription.droppedFrames, 3, "the queue's length, essential frames included")
        XCTAssertEqual(harness.owner.slowConsumers, ["s"])
        XCTAssertEqual(subscription.offer(frame: 4), .refused, "the subscription takes nothing more")
        XCTAssertEqual(try drained(subscription, harness), [])
        XCTAssertEqual(subscription.packetsSent, 0)
        XCTAssertEqual(harness.owner.slowConsumers, ["s"], "reported once")
    }

    // MARK: block

    func testBlockQueuesEveryFrameAndHoldsTheProducerUntilTheQueueIsBelowCapacity() throws {
        let harness = try DeliveryHarness()
        let gate = harness.fanOut.gate
        let subscription = harness.subscribe(policy: .block, capacity: 2)
        harness.connection.isWritable = false
        XCTAssertEqual(subscription.offer(frame: 0), .queued(dropping: 0))
        XCTAssertTrue(gate.isOpen, "one frame of two")
        XCTAssertEqual(subscription.offer(frame: 1), .queued(dropping: 0))
        XCTAssertFalse(gate.isOpen, "the queue is full: the producer waits before its next frame")
        // The frame already on its way when the queue filled still goes in.
        XCTAssertEqual(subscription.offer(frame: 2), .queued(dropping: 0))
        XCTAssertEqual(subscription.queuedCount, 3)
        XCTAssertEqual(subscription.droppedFrames, 0)

        harness.connection.makeRoom(forFrames: 1)
        XCTAssertEqual(subscription.drain(), 1)
        XCTAssertFalse(gate.isOpen, "two queued, capacity two: still full")
        harness.connection.makeRoom(forFrames: 1)
        XCTAssertEqual(subscription.drain(), 1)
        XCTAssertTrue(gate.isOpen, "below capacity: the producer goes on")
        harness.connection.isWritable = true
        XCTAssertEqual(subscription.drain(), 1)
        XCTAssertEqual(try harness.connection.flushedFrames().map(\.label), ["#0", "#1", "#2"])
        XCTAssertEqual(subscription.packetsSent, 3)
    }

    func testBlockHoldsTheProducerOnceHoweverFullAndLetsItGoWhenCancelled() throws {
        let harness = try DeliveryHarness()
        let gate = harness.fanOut.gate
        let first = harness.subscribe("a", policy: .block, capacity: 1)
        let second = harness.subscribe("b", policy: .block, capacity: 1)
        harness.connection.isWritable = false
        for sequence in 0...2 { _ = first.offer(frame: sequence) }
        _ = second.offer(frame: 0)
        XCTAssertFalse(gate.isOpen)
        XCTAssertEqual(first.cancel(), 3)
        XCTAssertFalse(gate.isOpen, "the other full queue still holds it")
        second.cancel()
        XCTAssertTrue(gate.isOpen)
    }

    /// Makes the socket take everything, drains, and returns what reached it.
    private func drained(_ subscription: Subscription, _ harness: DeliveryHarness) throws -> [String] {
        harness.connection.isWritable = true
        _ = subscription.drain()
        return try harness.connection.flushedFrames().map(\.label)
    }
}
