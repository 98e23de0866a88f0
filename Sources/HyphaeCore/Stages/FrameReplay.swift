import Synchronization

/// A place in a stream numbered by its producing run: the run's epoch and a frame's sequence.
public struct StreamPosition: Sendable, Equatable {
    public var epoch: String
    public var sequence: Int

    public init(epoch: String, sequence: Int) {
        self.epoch = epoch
        self.sequence = sequence
    }
}

/// How much one replay may read: the history's bounds, and a time after which it gives up.
public struct ReplayLimits: Sendable, Equatable {
    public var frames: Int
    public var bytes: Int
    public var timeout: Duration

    public init(frames: Int, bytes: Int, timeout: Duration) {
        self.frames = frames
        self.bytes = bytes
        self.timeout = timeout
    }
}

/// What a replaying source answers: where it stands, and the frames a resuming
/// subscriber missed.
public struct Replay: Sendable {
    /// The last frame the source has read (and so hands, or has handed, to the
    /// pipeline): live frames come after it. Nil when the source cannot tell yet.
    public var position: StreamPosition?
    /// Every frame after the requested point through `position`, oldest first; nil
    /// when not all of them can be had (another epoch, trimmed, past the limits).
    public var frames: [Frame]?
    /// How many frames after the requested point cannot be replayed, when known.
    public var missed: Int?

    public init(position: StreamPosition?, frames: [Frame]? = nil, missed: Int? = nil) {
        self.position = position
        self.frames = frames
        self.missed = missed
    }
}

/// A source whose frames were numbered elsewhere and kept there (a relay's Redis
/// stream) can read them again: a subscriber resuming on a host whose own history
/// does not reach back far enough gets them from the source's store instead.
public protocol FrameReplayer: Sendable {
    /// The source's position and, when `point` is given, every frame after it up to
    /// that position, within `limits`. Never throws: what it cannot read is a `Replay`
    /// without frames.
    func replay(after point: StreamPosition?, limits: ReplayLimits) async -> Replay
}

/// A source configuration whose stage offers a `FrameReplayer` (to the `ReplaySlot`
/// its context lends) when it runs, so that the host knows before the run starts
/// whom to ask.
public protocol ReplayingConfiguration: StageConfiguration {
    var offersReplay: Bool { get }
}

extension PipelineConfiguration {
    /// Whether the source will offer a replayer when it runs.
    public var sourceOffersReplay: Bool {
        (source.configuration as? any ReplayingConfiguration)?.offersReplay ?? false
    }
}

/// Where a source offers its replayer to the program running it. The host lends one
/// to a shared instance whose frames reach its sinks unchanged (no transforms), so
/// that what a replay returns is what subscribers would have been sent.
public final class ReplaySlot: StageResource {
    private let replayer = Mutex<(any FrameReplayer)?>(nil)

    public init() {}

    public func offer(_ replayer: any FrameReplayer) {
        self.replayer.withLock { $0 = replayer }
    }

    public var current: (any FrameReplayer)? {
        replayer.withLock { $0 }
    }

    /// Asks the source's replayer, waiting within `limits.timeout` for the source to
    /// offer one (it is built when its run starts). Nil when none was offered in time.
    public func replay(after point: StreamPosition?, limits: ReplayLimits) async -> Replay? {
        let deadline = ContinuousClock.now + limits.timeout
        while true {
            if let replayer = current {
                var remaining = limits
                remaining.timeout = max(.zero, deadline - ContinuousClock.now)
                return await replayer.replay(after: point, limits: remaining)
            }
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Where a source tells the subscribers of its instance that its frames stopped
/// coming because something it reads is unreachable, and that they flow again. Only
/// changes are passed on.
public final class SourceFlow: StageResource {
    public enum State: Sendable, Equatable {
        case flowing
        case stalled(reason: String)
    }

    private let current = Mutex<State>(.flowing)
    private let onChange: @Sendable (State) -> Void

    public init(onChange: @escaping @Sendable (State) -> Void) {
        self.onChange = onChange
    }

    /// The last change the source reported, for a subscriber that joins after it.
    public var state: State {
        current.withLock { $0 }
    }

    /// Takes on the state of the flow this one succeeds (a reload), without telling
    /// anyone: its subscribers were told by the predecessor, and hear of the next change.
    public func continueFlow(of predecessor: SourceFlow) {
        let inherited = predecessor.state
        current.withLock { $0 = inherited }
    }

    public func stalled(_ reason: String) {
        let changed = current.withLock { state -> Bool in
            guard case .flowing = state else { return false }
            state = .stalled(reason: reason)
            return true
        }
        if changed { onChange(.stalled(reason: reason)) }
    }

    public func flowing() {
        let changed = current.withLock { state -> Bool in
            guard case .stalled = state else { return false }
            state = .flowing
            return true
        }
        if changed { onChange(.flowing) }
    }
}
