/// Paces a source: each `waitForNextTick()` returns at the next tick of a steady rate.
///
/// Ticks fall on deadlines one interval apart, each counted from the previous
/// deadline rather than from when the caller came back, so the time a source
/// spends making its frame does not slow the rate. A caller that fell more than an
/// interval behind (its consumer was slow) gets its tick at once and one more
/// straight after, then the schedule starts again from there: it never receives a
/// burst of catch-up ticks for the time it lost.
///
/// Without a rate the pacer does not wait, but gives other tasks a turn every
/// `ticksBetweenYields` ticks, so a source that runs as fast as its sinks take
/// frames does not hold a thread.
///
/// ```swift
/// pacer = Pacer(framesPerSecond: configuration.rate)   // in init
/// try await pacer.waitForNextTick()                      // in next(), before each frame
/// ```
public struct Pacer<C: Clock>: Sendable where C.Duration == Duration {
    /// The time between two ticks; nil when unpaced.
    public let interval: Duration?
    private let clock: C
    private let ticksBetweenYields: Int
    private var nextDeadline: C.Instant?
    private var unpacedTicks = 0

    /// A pacer at `framesPerSecond`; 0 (or any rate that is not above 0) is unpaced.
    public init(framesPerSecond: Double, clock: C, ticksBetweenYields: Int = 64) {
        self.init(interval: Self.interval(framesPerSecond: framesPerSecond), clock: clock, ticksBetweenYields: ticksBetweenYields)
    }

    /// A pacer with `interval` between ticks; nil or a zero interval is unpaced.
    public init(interval: Duration?, clock: C, ticksBetweenYields: Int = 64) {
        self.interval = interval.flatMap { $0 > .zero ? $0 : nil }
        self.clock = clock
        self.ticksBetweenYields = max(1, ticksBetweenYields)
    }

    /// Returns at the next tick: at once for the first, then on schedule.
    /// Throws `CancellationError` when the task is cancelled, before or while waiting.
    public mutating func waitForNextTick() async throws {
        try Task.checkCancellation()
        guard let interval else {
            unpacedTicks &+= 1
            if unpacedTicks % ticksBetweenYields == 0 { await Task.yield() }
            return
        }
        let now = clock.now
        let due = nextDeadline ?? now
        if due > now { try await clock.sleep(until: due, tolerance: nil) }
        nextDeadline = Self.deadline(after: due, now: now, interval: interval)
    }

    /// When the tick after one that was `due` is due, for a caller that asked at `now`.
    ///
    /// On schedule or less than an interval late, one interval after `due`; later
    /// than that, `now`: the schedule restarts instead of catching up.
    public static func deadline(after due: C.Instant, now: C.Instant, interval: Duration) -> C.Instant {
        max(due, now.advanced(by: .zero - interval)).advanced(by: interval)
    }

    /// One tick's share of a second, to the nanosecond; nil for a rate that is not
    /// above 0 or that rounds to no time at all.
    public static func interval(framesPerSecond: Double) -> Duration? {
        guard framesPerSecond > 0 else { return nil }
        let nanoseconds = (1e9 / framesPerSecond).rounded()
        // A rate so low that its interval overflows waits as long as Duration can say: forever, in practice.
        guard nanoseconds < Double(Int64.max) else { return .nanoseconds(Int64.max) }
        return nanoseconds >= 1 ? .nanoseconds(Int64(nanoseconds)) : nil
    }
}

extension Pacer where C == ContinuousClock {
    /// A pacer on the monotonic clock at `framesPerSecond`; 0 is unpaced.
    public init(framesPerSecond: Double, ticksBetweenYields: Int = 64) {
        self.init(framesPerSecond: framesPerSecond, clock: ContinuousClock(), ticksBetweenYields: ticksBetweenYields)
    }

    /// A pacer on the monotonic clock with `interval` between ticks.
    public init(interval: Duration?, ticksBetweenYields: Int = 64) {
        self.init(interval: interval, clock: ContinuousClock(), ticksBetweenYields: ticksBetweenYields)
    }
}
