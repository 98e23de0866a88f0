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
/// timer fires `sliceCount` times per period and visits one slice of the
/// connections each time, so every connection is checked once per period. Connections
/// join the slices in turn, so the heartbeats of many that opened at once leave in
/// `sliceCount` small bursts rather than one large one. A check that comes early does
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
    private var joined = 0
    private var timer: Scheduled<Void>?

    init(eventLoop: EventLoop, period: TimeAmount) {
        self.eventLoop = eventLoop
        self.period = .nanoseconds(max(Int64(Self.sliceCount), period.nanoseconds))
        slices = Array(repeating: [:], count: Self.sliceCount)
    }

    /// How many participants the loop checks.
    var count: Int { slices.reduce(0) { $0 + $1.count } }

    /// Whether the loop's timer is set: only while it has participants.
    var isTicking: Bool { timer != nil }

    /// Adds `participant`, checked within a period from now and once per period after.
    func add(_ participant: any HeartbeatParticipant) {
        eventLoop.assertInEventLoop()
        slices[joined % Self.sliceCount][ObjectIdentifier(participant)] = participant
        joined += 1
        if timer == nil { start() }
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

    private func start() {
        timer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(period.nanoseconds / Int64(Self.sliceCount))) { [self] in
            timer = nil
            sweepNextSlice()
            if timer == nil, !slices.allSatisfy(\.isEmpty) { start() }
        }
    }

    /// An idle loop keeps no timer: the next participant starts it again.
    private func stop() {
        timer?.cancel()
        timer = nil
        firings = 0
        joined = 0
    }

    private func sweepNextSlice() {
        firings += 1
        let now = eventLoop.now
        // A participant that closes during its tick leaves the slice; iterating a copy
        // lets it.
        for participant in slices[firings % Self.sliceCount].values {
            participant.heartbeatTick(now: now)
        }
    }
}
