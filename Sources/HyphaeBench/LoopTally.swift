import NIOCore

/// What the connections of one event loop have seen. Confined to its loop: the
/// handlers add to it without locks, and the driver reads it with a job on that loop.
final class LoopTally {
    /// Whether the measured window is open: frames, latencies and gaps count in it.
    var isMeasuring = false
    var window = WindowCounts()
    var whole = WholeRunCounts()
    /// Every connection of this loop, to stop reading, resume or close them.
    var connections: [BenchConnection] = []

    struct WindowCounts {
        var frames = 0
        var bytes = 0
        var gaps = 0
        /// Gaps seen by the clients that stopped reading (and resumed), apart.
        var gapsOfSlowClients = 0
        var latencyMicroseconds = LatencyHistogram()
    }

    struct WholeRunCounts {
        var connected = 0
        var subscribed = 0
        var frames = 0
        var gaps = 0
        var gapsOfSlowClients = 0
        var outOfOrder = 0
        var errorMessages = 0
        var refusals = 0
        var streamEnds = 0
        var disconnects = 0
        var heartbeats = 0
        var closeCodes: [UInt16: Int] = [:]
        var connectMicroseconds = LatencyHistogram()
        var subscribeMicroseconds = LatencyHistogram()
    }

    @inline(__always)
    func recordFrame(latencyMicroseconds: Int?, gap: Int, byteCount: Int, isSlowClient: Bool) {
        whole.frames += 1
        whole.gaps += gap
        if isSlowClient { whole.gapsOfSlowClients += gap }
        guard isMeasuring else { return }
        window.frames += 1
        window.bytes += byteCount
        window.gaps += gap
        if isSlowClient {
            window.gapsOfSlowClients += gap
            return
        }
        if let latencyMicroseconds { window.latencyMicroseconds.record(latencyMicroseconds) }
    }

    func snapshot() -> LoopSnapshot {
        LoopSnapshot(window: window, whole: whole, activeConnections: connections.count(where: \.isActive))
    }
}

/// A copy of one loop's tally, handed to the driver.
struct LoopSnapshot: Sendable {
    var window: LoopTally.WindowCounts
    var whole: LoopTally.WholeRunCounts
    var activeConnections: Int
}

extension LoopTally.WindowCounts: Sendable {
    mutating func merge(_ other: Self) {
        frames += other.frames
        bytes += other.bytes
        gaps += other.gaps
        gapsOfSlowClients += other.gapsOfSlowClients
        latencyMicroseconds.merge(other.latencyMicroseconds)
    }
}

extension LoopTally.WholeRunCounts: Sendable {
    mutating func merge(_ other: Self) {
        connected += other.connected
        subscribed += other.subscribed
        frames += other.frames
        gaps += other.gaps
        gapsOfSlowClients += other.gapsOfSlowClients
        outOfOrder += other.outOfOrder
        errorMessages += other.errorMessages
        refusals += other.refusals
        streamEnds += other.streamEnds
        disconnects += other.disconnects
        heartbeats += other.heartbeats
        closeCodes.merge(other.closeCodes, uniquingKeysWith: +)
        connectMicroseconds.merge(other.connectMicroseconds)
        subscribeMicroseconds.merge(other.subscribeMicroseconds)
    }
}
