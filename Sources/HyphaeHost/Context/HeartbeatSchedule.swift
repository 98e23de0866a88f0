import NIOCore
import Synchronization

/// Each event loop's `LoopHeartbeats`, made on first use: what a session joins when
/// it opens.
final class HeartbeatSchedule: Sendable {
    private let period: TimeAmount
    private let loops = Mutex<[NIOLoopBound<LoopHeartbeats>]>([])

    /// `period` is how often each connection is checked.
    init(period: TimeAmount) {
        self.period = period
    }

    /// The heartbeats of `eventLoop`; call on that loop. Takes a lock, so call it once
    /// per connection, not per frame.
    func loop(_ eventLoop: EventLoop) -> LoopHeartbeats {
        loops.withLock { loops in
            if let existing = loops.first(where: { $0.eventLoop === eventLoop }) { return existing.value }
            let created = NIOLoopBound(LoopHeartbeats(eventLoop: eventLoop, period: period), eventLoop: eventLoop)
            loops.append(created)
            return created.value
        }
    }
}
