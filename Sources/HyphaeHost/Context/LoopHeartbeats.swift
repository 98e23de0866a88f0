import NIOCore

/// What a heartbeat sweep visits: a connection that sends heartbeats and closes
/// itself when its peer has been silent too long.
protocol HeartbeatParticipant: AnyObject {
    /// Called on the participant's event loop, once per `LoopHeartbeats.period`.
    func heartbeatTick(now: NIODeadline)
}

/// The heartbeat checks of one event loop's connections, driven by one repeating
/// timer. A timer per connection made the loop wake once per connection per period,
/// and NIO's timer heap, ~5,000 entries deep with 10,000 connections on two loops,
/// cost most of an idle host's CPU (Docs/PERFORMANCE.md, "Idle CPU"). Here the
/// timer fires `sliceCount` times per period, on deadlines a fixed step apart so that
/// a slow sweep does not stretch the period, and visits one slice of the connections
/// each time, so every connection is checked once per period. A connection joins the
/// smallest slice, so the heartbeats of many that opened at once leave in `sliceCount`
/// small bursts rather than one large one. A check that comes early does
/// nothing (the participant compares its own times), so a heartbeat or a timeout is
/// at most one period late, as with a timer of its own.
///
/// Lives on its event loop and is only touched there.
final class LoopHeartbeats {
    static let sliceCount = 8

    let period: TimeAmount
    private let eventLoop: EventLoop
    private var slices: [[ObjectIdentifier: any HeartbeatParticipant]]
    private var firings = 0
    private var nextFiring = NIODeadline.uptimeNanoseconds(0)
    private var timer: Scheduled<Void>?

    init(eventLoop: EventLoop, period: TimeAmount) {
        self.eventLoop = eventLoop
        self.period = .nanoseconds(max(Int64(Self.sliceCount), period.nanoseconds))
        slices = Array(repeating: [:], count: Self.sliceCount)
    }

    /// How many participants the loop checks.
    var count: Int {
        eventLoop.assertInEventLoop()
        return slices.reduce(0) { $0 + $1.count }
    }

    /// Whether the loop's timer is set: only while it has participants.
    var isTicking: Bool {
        eventLoop.assertInEventLoop()
        return timer != nil
    }

    /// Adds `participant`, checked within a period from now and once per period after.
    func add(_ participant: any HeartbeatParticipant) {
        eventLoop.assertInEventLoop()
        let smallest = slices.indices.min { slices[$0].count < slices[$1].count } ?? 0
        slices[smallest][ObjectIdentifier(participant)] = participant
        if timer == nil {
            nextFiring = eventLoop.now
            scheduleNextFiring()
        }
    }

    /// Removes `participant`; nothing happens for one that is not here.
    func remove(_ participant: any HeartbeatParticipant) {
        eventLoop.assertInEventLoop()
        let key = ObjectIdentifier(participant)
        for index in slices.indices {
            if slices[index].removeValue(forKey: key) != nil { break }
        }
        if slices.allSatisfy(\.isEmpty) { stop() }
    }

    private func scheduleNextFiring() {
        nextFiring = nextFiring + .nanoseconds(period.nanoseconds / Int64(Self.sliceCount))
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: nextFiring) { [self] in
            timer = nil
            sweepNextSlice()
            if timer == nil, !slices.allSatisfy(\.isEmpty) { scheduleNextFiring() }
        }
    }

    /// An idle loop keeps no timer: the next participant starts it again.
    private func stop() {
        timer?.cancel()
        timer = nil
        firings = 0
    }

    private func sweepNextSlice() {
        firings += 1
        let now = eventLoop.now
        let index = firings % Self.sliceCount
        // A participant's tick may close it or another participant of the slice, which
        // leaves the slice: iterate a copy, and skip whoever has left since it was taken.
        for (key, participant) in slices[index] where slices[index][key] != nil {
            participant.heartbeatTick(now: now)
        }
    }
}
