import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import NIOCore
import NIOEmbedded
import XCTest

/// PROTOCOL.md, Resume, on a relay: a subscriber joins with what the source read back
/// from its store (`FrameHistory.RelayedReplay`), while the instance's own frames go on.
/// One embedded loop runs its jobs when the test says, so each race is set up exactly.
final class RelayedResumeTests: XCTestCase {
    private let loop = EmbeddedEventLoop()
    private let roomy = FrameHistory.Limits(frames: 100, seconds: 600, bytes: 1 << 20)
    private let producer = "producer-run"

    private func labels(_ connection: DeliveryConnection) throws -> [String] {
        try connection.flushedFrames().map(\.label)
    }

    /// A replay of the frames after `since` through `through`, as the source would encode them.
    private func replay(through: Int, from first: Int?) -> FrameHistory.RelayedReplay {
        FrameHistory.RelayedReplay(
            position: StreamPosition(epoch: producer, sequence: through),
            frames: first.map { first in first > through ? [] : (first...through).map { NumberedFrames.encoded($0) } })
    }

    func testARelayedFrameGivesTheStreamItsProducersEpoch() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        XCTAssertFalse(harness.fanOut.history.answers(nil), "no frame yet: the epoch is not known")
        harness.fanOut.publish(NumberedFrames.encoded(40), epoch: producer)
        XCTAssertEqual(harness.fanOut.history.epoch, producer)
        XCTAssertTrue(harness.fanOut.history.answers(nil))
        XCTAssertTrue(harness.fanOut.history.answers(ResumePoint(epoch: producer, sequence: 39)))
        XCTAssertFalse(harness.fanOut.history.answers(ResumePoint(epoch: producer, sequence: 38)), "38's successor 39 is not held")
        XCTAssertFalse(harness.fanOut.history.answers(ResumePoint(epoch: "another", sequence: 39)))
    }

    /// The source read through 10; the instance has since published 11 and 12, and 13
    /// waits in the loop's inbox: the subscriber gets 6...10 from the replay, 11 and 12
    /// from the history, and 13 live, each once.
    func testReplayedFramesThenTheHistorysThenLiveOnesEachOnce() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        harness.fanOut.loop(loop).add(harness.subscribe("early"))
        for sequence in 11...12 { harness.fanOut.publish(NumberedFrames.encoded(sequence), epoch: producer) }
        loop.run()
        harness.fanOut.publish(NumberedFrames.encoded(13), epoch: producer)
        let late = try DeliveryConnection(loop: loop)
        var told: ResumeOutcome?
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: ResumePoint(epoch: producer, sequence: 5), relayed: replay(through: 10, from: 6)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 13, recovered: true))
        loop.run()
        XCTAssertEqual(try labels(late), (6...13).map { "#\($0)" })
    }

    /// The source has read through 10 but the instance has published only up to 8 (9
    /// and 10 are on their way through the pipeline): they come from the replay, and
    /// the live copies are skipped.
    func testFramesTheSourceReadButDidNotPublishYetAreNotSentTwice() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        for sequence in 7...8 { harness.fanOut.publish(NumberedFrames.encoded(sequence), epoch: producer) }
        let late = try DeliveryConnection(loop: loop)
        var told: ResumeOutcome?
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: ResumePoint(epoch: producer, sequence: 5), relayed: replay(through: 10, from: 6)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 10, recovered: true))
        for sequence in 9...11 { harness.fanOut.publish(NumberedFrames.encoded(sequence), epoch: producer) }
        loop.run()
        XCTAssertEqual(try labels(late), (6...11).map { "#\($0)" })
    }

    /// A client whose last frame is past this edge's source (its old edge read ahead):
    /// nothing to replay, and the frames up to its own come live and are skipped.
    func testAClientAheadOfTheSourceSkipsWhatItHas() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        let late = try DeliveryConnection(loop: loop)
        var told: ResumeOutcome?
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: ResumePoint(epoch: producer, sequence: 12), relayed: replay(through: 10, from: 13)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 12, recovered: true))
        for sequence in 11...14 { harness.fanOut.publish(NumberedFrames.encoded(sequence), epoch: producer) }
        loop.run()
        XCTAssertEqual(try labels(late), ["#13", "#14"])
    }

    /// The client saw up to 12, the source read only through 10, and the instance has
    /// published 11...13 since: of the history's frames the client gets 13 alone.
    func testAClientAheadOfTheSourceGetsNoFrameTwiceFromTheHistory() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        for sequence in 11...13 { harness.fanOut.publish(NumberedFrames.encoded(sequence), epoch: producer) }
        loop.run()
        let late = try DeliveryConnection(loop: loop)
        var told: ResumeOutcome?
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: ResumePoint(epoch: producer, sequence: 12), relayed: replay(through: 10, from: 13)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 13, recovered: true))
        harness.fanOut.publish(NumberedFrames.encoded(14), epoch: producer)
        loop.run()
        XCTAssertEqual(try labels(late), ["#13", "#14"])
    }

    /// A `since` further ahead of the source than a history's worth is not believed: the
    /// client is told it was not recovered and takes live frames, instead of waiting
    /// among the joining subscribers for a sequence that may never come.
    func testAClientFarAheadOfTheSourceIsNotRecoveredAndTakesLiveFrames() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        let late = try DeliveryConnection(loop: loop)
        var told: ResumeOutcome?
        let farAhead = 10 + FrameHistory.relayedLead(roomy) + 1
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: ResumePoint(epoch: producer, sequence: farAhead), relayed: replay(through: 10, from: farAhead + 1)) { told = $0 }
        XCTAssertEqual(told?.recovered, false)
        XCTAssertEqual(told?.sequence, 10)
        for sequence in 11...12 { harness.fanOut.publish(NumberedFrames.encoded(sequence), epoch: producer) }
        loop.run()
        XCTAssertEqual(try labels(late), ["#11", "#12"])
    }

    /// A plain subscribe (no `since`) on a relay whose instance published past the
    /// source's position is told the latest sequence and takes only frames after it,
    /// not the held ones at or before it.
    func testAJoinWithoutSinceTakesOnlyFramesAfterTheSequenceItIsTold() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        for sequence in 9...12 { harness.fanOut.publish(NumberedFrames.encoded(sequence), epoch: producer) }
        loop.run()
        let late = try DeliveryConnection(loop: loop)
        var told: ResumeOutcome?
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: nil, relayed: replay(through: 10, from: nil)) { told = $0 }
        XCTAssertEqual(told?.sequence, 12)
        harness.fanOut.publish(NumberedFrames.encoded(13), epoch: producer)
        loop.run()
        XCTAssertEqual(try labels(late), ["#13"])
    }

    /// The history lost frames the source read past its position: a client that needs
    /// none of those lost is served from what is held; one that needs them is not
    /// recovered and told how many it missed, never a negative count.
    func testAHistoryThatLostFramesServesTheClientsThatDoNotNeedThem() throws {
        let small = FrameHistory.Limits(frames: 2, seconds: 600, bytes: 1 << 20)
        let harness = try DeliveryHarness(loop: loop, history: small)
        for sequence in 11...15 { harness.fanOut.publish(NumberedFrames.encoded(sequence), epoch: producer) }
        loop.run()
        var told: ResumeOutcome?

        let ahead = try DeliveryConnection(loop: loop)
        harness.fanOut.join(harness.subscribe("ahead", on: ahead), on: loop, since: ResumePoint(epoch: producer, sequence: 20), relayed: replay(through: 10, from: 21)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 20, recovered: true), "ahead of everything held: nothing missed")

        let near = try DeliveryConnection(loop: loop)
        harness.fanOut.join(harness.subscribe("near", on: near), on: loop, since: ResumePoint(epoch: producer, sequence: 13), relayed: replay(through: 10, from: 14)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 15, recovered: true), "14 and 15 are held")

        let behind = try DeliveryConnection(loop: loop)
        harness.fanOut.join(harness.subscribe("behind", on: behind), on: loop, since: ResumePoint(epoch: producer, sequence: 11), relayed: replay(through: 10, from: 12)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 15, recovered: false, missed: 4), "12 and 13 are gone")

        loop.run()
        XCTAssertEqual(try labels(near), ["#14", "#15"])
        XCTAssertEqual(try labels(ahead), [])
    }

    func testWhatTheSourceCouldNotReplayIsCountedAndLiveFramesFollow() throws {
        let harness = try DeliveryHarness(loop: loop, history: roomy)
        let late = try DeliveryConnection(loop: loop)
        var told: ResumeOutcome?
        harness.fanOut.join(harness.subscribe("late", on: late), on: loop, since: ResumePoint(epoch: producer, sequence: 2), relayed: replay(through: 10, from: nil)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 10, recovered: false, missed: 8))
        harness.fanOut.publish(NumberedFrames.encoded(11), epoch: producer)
        loop.run()
        XCTAssertEqual(try labels(late), ["#11"])

        let other = try DeliveryConnection(loop: loop)
        harness.fanOut.join(harness.subscribe("other", on: other), on: loop, since: ResumePoint(epoch: "old-run", sequence: 2), relayed: replay(through: 11, from: nil)) { told = $0 }
        XCTAssertEqual(told, ResumeOutcome(epoch: producer, sequence: 11, recovered: false), "another run's count would mean nothing")
    }
}
