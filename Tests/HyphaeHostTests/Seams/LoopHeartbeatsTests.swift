@testable import HyphaeHost
import NIOCore
import NIOEmbedded
import XCTest

/// One timer per event loop checks every connection's heartbeat once per period.
final class LoopHeartbeatsTests: XCTestCase {
    /// Records when it was checked; closes itself (leaves) at its n-th check when told to.
    private final class Recorder: HeartbeatParticipant {
        var checks: [NIODeadline] = []
        var leaveAtCheck: Int?
        weak var heartbeats: LoopHeartbeats?

        func heartbeatTick(now: NIODeadline) {
            checks.append(now)
            if checks.count == leaveAtCheck { heartbeats?.remove(self) }
        }
    }

    private let period = TimeAmount.milliseconds(800)

    func testEveryParticipantIsCheckedOncePerPeriod() {
        let loop = EmbeddedEventLoop()
        let heartbeats = LoopHeartbeats(eventLoop: loop, period: period)
        var recorders: [Recorder] = []
        // Twenty participants that join at different moments, some together.
        for step in 0..<20 {
            let recorder = Recorder()
            recorders.append(recorder)
            heartbeats.add(recorder)
            if step % 3 == 0 { loop.advanceTime(by: .milliseconds(70)) }
        }
        let joinedBy = loop.now
        loop.advanceTime(by: .milliseconds(8000))
        for (index, recorder) in recorders.enumerated() {
            let gaps = zip(recorder.checks.dropFirst(), recorder.checks).map { $0 - $1 }
            XCTAssertEqual(Set(gaps), [period], "participant \(index) is checked every period")
            XCTAssertLessThanOrEqual(recorder.checks.first.map { $0 - joinedBy } ?? .hours(1), period, "participant \(index) is first checked within a period")
            XCTAssertGreaterThanOrEqual(recorder.checks.count, 9)
        }
    }

    func testParticipantsThatJoinTogetherAreSpreadOverTheSlices() {
        let loop = EmbeddedEventLoop()
        let heartbeats = LoopHeartbeats(eventLoop: loop, period: period)
        let recorders = (0..<(LoopHeartbeats.sliceCount * 5)).map { _ in Recorder() }
        recorders.forEach(heartbeats.add)
        loop.advanceTime(by: period)
        let firstChecks = Dictionary(grouping: recorders.compactMap(\.checks.first), by: { $0 })
        XCTAssertEqual(firstChecks.count, LoopHeartbeats.sliceCount, "one burst per slice")
        XCTAssertEqual(Set(firstChecks.values.map(\.count)), [5], "equal bursts")
    }

    func testARemovedParticipantIsNotCheckedAndAnEmptyLoopKeepsNoTimer() {
        let loop = EmbeddedEventLoop()
        let heartbeats = LoopHeartbeats(eventLoop: loop, period: period)
        let staying = Recorder()
        let leaving = Recorder()
        heartbeats.add(staying)
        heartbeats.add(leaving)
        loop.advanceTime(by: period)
        heartbeats.remove(leaving)
        heartbeats.remove(leaving)
        loop.advanceTime(by: period * 3)
        XCTAssertEqual(leaving.checks.count, 1)
        XCTAssertEqual(staying.checks.count, 4)
        XCTAssertEqual(heartbeats.count, 1)

        heartbeats.remove(staying)
        XCTAssertFalse(heartbeats.isTicking, "no timer while no one is checked")
        loop.advanceTime(by: period * 3)
        XCTAssertEqual(staying.checks.count, 4)

        let returning = Recorder()
        heartbeats.add(returning)
        XCTAssertTrue(heartbeats.isTicking)
        loop.advanceTime(by: period)
        XCTAssertEqual(returning.checks.count, 1)
    }

    /// A connection that times out closes during its own check; the others in its
    /// slice are still checked, and the last one to leave stops the timer.
    func testAParticipantMayLeaveDuringItsCheck() {
        let loop = EmbeddedEventLoop()
        let heartbeats = LoopHeartbeats(eventLoop: loop, period: period)
        // Same slice: every sliceCount-th one to join.
        let inOneSlice = (0..<3).map { _ in Recorder() }
        for recorder in inOneSlice {
            recorder.heartbeats = heartbeats
            recorder.leaveAtCheck = 2
            heartbeats.add(recorder)
            for _ in 1..<LoopHeartbeats.sliceCount { heartbeats.add(Recorder()) }
        }
        XCTAssertEqual(heartbeats.count, 3 * LoopHeartbeats.sliceCount)
        loop.advanceTime(by: period * 4)
        XCTAssertEqual(inOneSlice.map(\.checks.count), [2, 2, 2])
        XCTAssertEqual(heartbeats.count, 3 * LoopHeartbeats.sliceCount - 3)
    }

    /// The last one leaving during its own check stops the timer; the next to join
    /// starts it again, on its own period.
    func testTheLastParticipantLeavingDuringItsCheckStopsTheTimer() {
        let loop = EmbeddedEventLoop()
        let heartbeats = LoopHeartbeats(eventLoop: loop, period: period)
        let leaving = Recorder()
        leaving.heartbeats = heartbeats
        leaving.leaveAtCheck = 1
        heartbeats.add(leaving)
        loop.advanceTime(by: period)
        XCTAssertEqual(leaving.checks.count, 1)
        XCTAssertFalse(heartbeats.isTicking)

        loop.advanceTime(by: .milliseconds(130))
        let joined = loop.now
        let next = Recorder()
        heartbeats.add(next)
        loop.advanceTime(by: period * 3)
        XCTAssertEqual(next.checks.map { $0 - joined }, [period, period * 2, period * 3])
    }

    /// A check that closes other connections of the same slice: none of them is checked
    /// after it left. The slice is visited in no set order, so the closer shares it with
    /// many: without the skip, some come after it in nearly every run.
    func testOnesLeftDuringTheSweepAreNotCheckedAfter() {
        final class Visits {
            var order: [ObjectIdentifier] = []
        }
        final class Visited: HeartbeatParticipant {
            let visits: Visits
            init(visits: Visits) { self.visits = visits }
            func heartbeatTick(now: NIODeadline) { visits.order.append(ObjectIdentifier(self)) }
        }
        final class Closer: HeartbeatParticipant {
            let heartbeats: LoopHeartbeats
            let visits: Visits
            var others: [Visited] = []
            init(heartbeats: LoopHeartbeats, visits: Visits) {
                self.heartbeats = heartbeats
                self.visits = visits
            }
            func heartbeatTick(now: NIODeadline) {
                visits.order.append(ObjectIdentifier(self))
                others.forEach(heartbeats.remove)
            }
        }
        let loop = EmbeddedEventLoop()
        let heartbeats = LoopHeartbeats(eventLoop: loop, period: period)
        let visits = Visits()
        let closer = Closer(heartbeats: heartbeats, visits: visits)
        // Each joins the smallest slice, the first of equals: one of every sliceCount
        // lands in the first slice, where the closer goes last.
        for _ in 0..<50 {
            let visited = Visited(visits: visits)
            closer.others.append(visited)
            heartbeats.add(visited)
            for _ in 1..<LoopHeartbeats.sliceCount { heartbeats.add(Recorder()) }
        }
        heartbeats.add(closer)
        loop.advanceTime(by: period * 2)
        let closerVisits = visits.order.indices.filter { visits.order[$0] == ObjectIdentifier(closer) }
        XCTAssertEqual(closerVisits.count, 2, "the closer's slice came round twice")
        let removed = Set(closer.others.map(ObjectIdentifier.init))
        XCTAssertEqual(visits.order.dropFirst((closerVisits.first ?? 0) + 1).filter(removed.contains), [], "none is checked once the closer has removed it")
        XCTAssertEqual(heartbeats.count, 50 * (LoopHeartbeats.sliceCount - 1) + 1)
    }

    func testTheCheckPeriodIsAQuarterOfTheShorterPeriodAndNeverTraps() {
        var configuration = HostConfiguration()
        configuration.heartbeatInterval = 30
        configuration.heartbeatTimeout = 60
        XCTAssertEqual(configuration.heartbeatCheckPeriod, .milliseconds(7500))
        configuration.heartbeatTimeout = 0.001
        XCTAssertEqual(configuration.heartbeatCheckPeriod, .milliseconds(5), "at least 5 ms")
        configuration.heartbeatTimeout = .infinity
        configuration.heartbeatInterval = 1e300
        XCTAssertEqual(configuration.heartbeatCheckPeriod, .nanoseconds(.max))
        XCTAssertTrue(configuration.startupProblems().contains { $0.contains("at most 86400 seconds") })
        XCTAssertEqual(TimeAmount.interval(seconds: .nan), .zero)
        XCTAssertEqual(TimeAmount.interval(seconds: -1), .zero)
    }
}
