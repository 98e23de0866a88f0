import HyphaeCore
import Synchronization
import XCTest

final class PacerTests: XCTestCase {
    func testTheRateBecomesAnIntervalAndZeroIsUnpaced() {
        XCTAssertEqual(Pacer<ContinuousClock>.interval(framesPerSecond: 10), .milliseconds(100))
        XCTAssertEqual(Pacer<ContinuousClock>.interval(framesPerSecond: 3), .nanoseconds(333_333_333))
        XCTAssertEqual(Pacer<ContinuousClock>.interval(framesPerSecond: 1_000_000), .microseconds(1))
        XCTAssertNil(Pacer<ContinuousClock>.interval(framesPerSecond: 0))
        XCTAssertNil(Pacer<ContinuousClock>.interval(framesPerSecond: -1))
        XCTAssertNil(Pacer<ContinuousClock>.interval(framesPerSecond: .nan))
        XCTAssertNil(Pacer(interval: .zero, clock: ManualClock()).interval)
    }

    func testARateTooLowToCountInNanosecondsWaitsAsLongAsADurationCanSay() {
        XCTAssertEqual(Pacer<ContinuousClock>.interval(framesPerSecond: 1e-12), .nanoseconds(Int64.max))
    }

    func testTheFirstTickIsImmediateAndTheNextOnesAnIntervalApart() async throws {
        let clock = ManualClock()
        var pacer = Pacer(framesPerSecond: 10, clock: clock)
        var ticks: [Duration] = []
        for _ in 0..<4 {
            try await pacer.waitForNextTick()
            ticks.append(clock.elapsed)
        }
        XCTAssertEqual(ticks, [.zero, .milliseconds(100), .milliseconds(200), .milliseconds(300)])
    }

    func testWorkBetweenTicksDoesNotSlowTheRate() async throws {
        let clock = ManualClock()
        var pacer = Pacer(interval: .milliseconds(100), clock: clock)
        var ticks: [Duration] = []
        for _ in 0..<4 {
            try await pacer.waitForNextTick()
            ticks.append(clock.elapsed)
            clock.advance(by: .milliseconds(30))  // the source making its frame
        }
        XCTAssertEqual(ticks, [.zero, .milliseconds(100), .milliseconds(200), .milliseconds(300)])
        XCTAssertEqual(clock.sleeps, [.milliseconds(100), .milliseconds(200), .milliseconds(300)], "it sleeps until deadlines")
    }

    func testACallerLessThanAnIntervalLateKeepsTheSchedule() async throws {
        let clock = ManualClock()
        var pacer = Pacer(interval: .milliseconds(100), clock: clock)
        try await pacer.waitForNextTick()
        clock.advance(by: .milliseconds(160))  // 60 ms past the tick due at 100
        try await pacer.waitForNextTick()
        XCTAssertEqual(clock.elapsed, .milliseconds(160))
        try await pacer.waitForNextTick()
        XCTAssertEqual(clock.elapsed, .milliseconds(200), "the tick due at 200 keeps its time")
    }

    func testACallerFarBehindGetsNoBurstOfCatchUpTicks() async throws {
        let clock = ManualClock()
        var pacer = Pacer(interval: .milliseconds(100), clock: clock)
        try await pacer.waitForNextTick()
        clock.advance(by: .milliseconds(1_050))  // ten ticks missed
        var ticks: [Duration] = []
        for _ in 0..<4 {
            try await pacer.waitForNextTick()
            ticks.append(clock.elapsed)
        }
        // The late tick and one more at once; then an interval apart, from there.
        XCTAssertEqual(ticks, [.milliseconds(1_050), .milliseconds(1_050), .milliseconds(1_150), .milliseconds(1_250)])
    }

    func testTheNextDeadlineFunction() {
        let interval = Duration.milliseconds(100)
        func deadline(due: Int, now: Int) -> Duration {
            let instant = Pacer<ManualClock>.deadline(
                after: ManualClock.Instant(offset: .milliseconds(due)), now: ManualClock.Instant(offset: .milliseconds(now)), interval: interval)
            return instant.offset
        }
        XCTAssertEqual(deadline(due: 500, now: 450), .milliseconds(600), "early: one interval after the deadline")
        XCTAssertEqual(deadline(due: 500, now: 500), .milliseconds(600))
        XCTAssertEqual(deadline(due: 500, now: 599), .milliseconds(600), "late by less than an interval: still on schedule")
        XCTAssertEqual(deadline(due: 500, now: 900), .milliseconds(900), "far behind: the schedule restarts now")
    }

    func testAnUnpacedPacerNeverSleeps() async throws {
        let clock = ManualClock()
        var pacer = Pacer(framesPerSecond: 0, clock: clock, ticksBetweenYields: 8)
        XCTAssertNil(pacer.interval)
        for _ in 0..<100 { try await pacer.waitForNextTick() }
        XCTAssertEqual(clock.sleeps, [])
        XCTAssertEqual(clock.elapsed, .zero)
    }

    func testACancelledTaskStopsAtTheNextTickPacedOrNot() async throws {
        for rate in [0.0, 10] {
            let clock = ManualClock()
            let outcome = await Task {
                var pacer = Pacer(framesPerSecond: rate, clock: clock)
                withUnsafeCurrentTask { $0?.cancel() }
                do {
                    try await pacer.waitForNextTick()
                    return "ticked"
                } catch is CancellationError {
                    return "cancelled"
                } catch {
                    return "\(error)"
                }
            }.value
            XCTAssertEqual(outcome, "cancelled", "rate \(rate)")
        }
    }

    func testCancellingWhileWaitingEndsTheWait() async throws {
        var pacer = Pacer(framesPerSecond: 0.01)  // a tick every 100 s, on the real clock
        try await pacer.waitForNextTick()
        let waiting = Task { [pacer] in
            var pacer = pacer
            try await pacer.waitForNextTick()
        }
        waiting.cancel()
        do {
            try await waiting.value
            XCTFail("the wait for a tick 100 s away returned")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
    }
}

/// A clock that only moves when told to, or when something sleeps on it (then at
/// once to the deadline), and that records every deadline slept until.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration

        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private let state = Mutex((now: Instant(offset: .zero), sleeps: [Duration]()))

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .nanoseconds(1) }
    var elapsed: Duration { now.offset }
    var sleeps: [Duration] { state.withLock { $0.sleeps } }

    func advance(by duration: Duration) {
        state.withLock { $0.now = $0.now.advanced(by: duration) }
    }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.sleeps.append(deadline.offset)
            $0.now = max($0.now, deadline)
        }
    }
}
