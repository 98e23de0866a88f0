import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import NIOCore
import NIOEmbedded
import XCTest

/// PROTOCOL.md, Resume: a shared instance's history, and a subscriber that joins with
/// `since` while frames are still on their way to its loop. One embedded loop runs its
/// jobs when the test says, so the race between replay and live frames is set up exactly.
final class FrameHistoryTests: XCTestCase {
    private let loop = EmbeddedEventLoop()
    private let roomy = FrameHistory.Limits(frames: 100, seconds: 600, bytes: 1 << 20)

    private func labels(_ connection: DeliveryConnection) throws -> [String] {
        try connection.flushedFrames().map(\.label)
    }

    func testAJoinWhileFramesWaitInTheInboxGetsEachFrameOnceInOrder() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        let fanOut = harness.fanOut.loop(loop)
        fanOut.add(harness.subscribe("early"))
        for sequence in 0..<5 { harness.fanOut.publish(NumberedFrames.encoded(sequence)) }
        loop.run()
        // 5 and 6 are published and in the loop's inbox, not yet delivered, when the second joins.
        harness.fanOut.publish(NumberedFrames.encoded(5))
        harness.fanOut.publish(NumberedFrames.encoded(6))
        let late = try DeliveryConnection(loop: loop)
        let epoch = harness.fanOut.history.epoch
        var told: ResumeOutcome?
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: ResumePoint(epoch: epoch, sequence: 2)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: epoch, sequence: 6, recovered: true))
        XCTAssertEqual(try labels(late), ["#3", "#4", "#5", "#6"], "replayed at once, up to the latest")
        loop.run()
        harness.fanOut.publish(NumberedFrames.encoded(7))
        loop.run()
        XCTAssertEqual(try labels(late), ["#7"], "5 and 6 were in the inbox: not sent twice")
        XCTAssertEqual(try labels(harness.connection), (0...7).map { "#\($0)" })
    }

    func testAJoinWithoutSinceStartsAfterTheLatestFrame() throws {
        let harness = try DeliveryHarness(loop: loop)
        harness.fanOut.loop(loop).add(harness.subscribe("early"))
        harness.fanOut.publish(NumberedFrames.encoded(0))
        harness.fanOut.publish(NumberedFrames.encoded(1))
        var told: ResumeOutcome?
        let late = try DeliveryConnection(loop: loop)
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: nil) { told = $0 }
        XCTAssertEqual(told?.sequence, 1)
        XCTAssertNil(told?.recovered)
        harness.fanOut.publish(NumberedFrames.encoded(2))
        loop.run()
        XCTAssertEqual(try labels(late), ["#2"], "the first frame after the sequence subscribe_success gave")
    }

    func testTheReplayGoesThroughTheSubscriptionsQueueAndPolicy() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        for sequence in 0..<10 { harness.fanOut.publish(NumberedFrames.encoded(sequence)) }
        let slow = harness.subscribe("slow", capacity: 3)
        harness.connection.isWritable = false
        var told: ResumeOutcome?
        harness.fanOut.join(slow, on: loop, since: ResumePoint(epoch: harness.fanOut.history.epoch, sequence: 1)) { told = $0 }
        XCTAssertEqual(told?.recovered, true)
        XCTAssertEqual(slow.queuedCount, 3, "a full queue under drop_oldest keeps the newest")
        XCTAssertEqual(slow.droppedFrames, 5)
        harness.connection.makeRoom(forFrames: 10)
        _ = slow.drain()
        XCTAssertEqual(try labels(harness.connection), ["#7", "#8", "#9"])
    }

    func testTheHistoryKeepsItsBoundsInFramesAndBytes() {
        let byFrames = FrameHistory(limits: FrameHistory.Limits(frames: 5, seconds: 600, bytes: 1 << 20))
        for sequence in 0..<20 { byFrames.append(NumberedFrames.encoded(sequence)) }
        XCTAssertEqual(byFrames.framesHeld, 5)
        let frame = NumberedFrames.encoded(0)
        let byBytes = FrameHistory(limits: FrameHistory.Limits(frames: 1000, seconds: 600, bytes: 4 * frame.bytes.capacity))
        for sequence in 0..<20 { byBytes.append(NumberedFrames.encoded(sequence)) }
        XCTAssertLessThanOrEqual(byBytes.bytesHeld, 4 * frame.bytes.capacity)
        XCTAssertGreaterThan(byBytes.framesHeld, 0)
        XCTAssertLessThan(byBytes.framesHeld, 20)
        let none = FrameHistory(limits: .none)
        for sequence in 0..<20 { none.append(NumberedFrames.encoded(sequence)) }
        XCTAssertEqual(none.framesHeld, 0)
        XCTAssertEqual(none.resumption(after: nil).outcome.sequence, 19, "the latest sequence is known all the same")
    }

    /// Frames older than `seconds` do not answer a resume, even when no newer frame has
    /// come to push them out: a relay then asks its source, which may still have them.
    func testAHistoryDoesNotAnswerWithFramesPastItsAge() throws {
        // Half a second: the first check must come within it even on a loaded machine.
        let history = FrameHistory(limits: FrameHistory.Limits(frames: 100, seconds: 0.5, bytes: 1 << 20))
        for sequence in 0..<5 { history.append(NumberedFrames.encoded(sequence)) }
        let since = ResumePoint(epoch: history.epoch, sequence: 1)
        XCTAssertTrue(history.answers(since))
        Thread.sleep(forTimeInterval: 0.8)
        XCTAssertFalse(history.answers(since), "2 to 4 are past half a second")
        XCTAssertTrue(history.answers(ResumePoint(epoch: history.epoch, sequence: 4)), "nothing after the latest is wanted")
    }

    func testWhatAResumeIsToldWhenItCannotBeServed() {
        let history = FrameHistory(limits: FrameHistory.Limits(frames: 5, seconds: 600, bytes: 1 << 20))
        XCTAssertEqual(history.resumption(after: nil).outcome.sequence, -1, "before the first frame")
        for sequence in 0..<20 { history.append(NumberedFrames.encoded(sequence)) }
        let epoch = history.epoch
        XCTAssertEqual(history.epoch.utf8.count, 16)
        XCTAssertTrue(ResumePoint.isValidEpoch(epoch))

        let evicted = history.resumption(after: ResumePoint(epoch: epoch, sequence: 10))
        XCTAssertEqual(evicted.outcome, ResumeOutcome(epoch: epoch, sequence: 19, recovered: false, missed: 9))
        XCTAssertTrue(evicted.frames.isEmpty)
        let edge = history.resumption(after: ResumePoint(epoch: epoch, sequence: 14))
        XCTAssertEqual(edge.outcome.recovered, true, "15 to 19 are the five held")
        XCTAssertEqual(edge.frames.map(\.sequence), [15, 16, 17, 18, 19])
        XCTAssertEqual(history.resumption(after: ResumePoint(epoch: epoch, sequence: 19)).outcome.recovered, true, "nothing missed")
        XCTAssertEqual(history.resumption(after: ResumePoint(epoch: epoch, sequence: 20)).outcome.recovered, false, "ahead of the stream")
        XCTAssertNil(history.resumption(after: ResumePoint(epoch: "other", sequence: 18)).outcome.missed)

        let successor = FrameHistory(limits: FrameHistory.Limits(frames: 3, seconds: 600, bytes: 1 << 20))
        successor.continueStream(of: history)
        XCTAssertEqual(successor.epoch, epoch, "a reload keeps the epoch")
        XCTAssertEqual(successor.resumption(after: ResumePoint(epoch: epoch, sequence: 16)).frames.map(\.sequence), [17, 18, 19])
        XCTAssertNotEqual(FrameHistory(limits: .none).epoch, epoch, "a new run, a new epoch")
    }
}
