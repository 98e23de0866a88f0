import HyphaeCore
import HyphaeProtocol
import NIOCore
import Synchronization

/// The recent frames of a shared instance, so that a subscriber that reconnects with
/// `since` gets what it missed (PROTOCOL.md, Resume), and the epoch that names the run.
///
/// It keeps the frames as the sink encoded them, once for all subscribers: holding one
/// is a reference to a buffer that already exists, appended by the producer once per
/// frame. The fan-out's delivery to each subscriber never touches it.
final class FrameHistory: Sendable {
    /// How much it holds; whichever bound is reached first evicts the oldest frames.
    struct Limits: Sendable, Equatable {
        var frames: Int
        var seconds: Double
        var bytes: Int

        /// Keeps nothing but the epoch and the latest sequence (a run per subscriber).
        static let none = Limits(frames: 0, seconds: 0, bytes: 0)

        var keepsFrames: Bool { frames > 0 && seconds > 0 && bytes > 0 }
    }

    /// What a subscriber is told and sent when it joins.
    struct Resumption {
        var outcome: ResumeOutcome
        /// The frames to send before live ones, oldest first.
        var frames: [EncodedFrame]
    }

    /// What a relaying source read again from its store, encoded for subscribers.
    struct RelayedReplay: Sendable {
        var position: StreamPosition
        /// Every frame after the subscriber's `since` through `position`; nil when not all could be had.
        var frames: [EncodedFrame]?
    }

    private struct HeldFrame {
        var frame: EncodedFrame
        var heldAt: NIODeadline
        var bytes: Int
    }

    private struct State {
        var epoch: String
        var held: CircularBuffer<HeldFrame>
        var bytes = 0
        /// The sequence of the last frame published (-1 before the first).
        var latest = ResumePoint.sequenceBeforeFirst
    }

    let limits: Limits
    private let state: Mutex<State>

    init(limits: Limits, epoch: String = FrameHistory.newEpoch()) {
        self.limits = limits
        state = Mutex(State(epoch: epoch, held: CircularBuffer(initialCapacity: limits.keepsFrames ? min(limits.frames, 1024) : 1)))
    }

    /// A name for a new run: 16 hex digits from the system's random generator.
    static func newEpoch() -> String {
        let value = UInt64.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    var epoch: String { state.withLock { $0.epoch } }

    /// The bytes held; each frame counts its encoding's whole allocation.
    var bytesHeld: Int { state.withLock { $0.bytes } }

    var framesHeld: Int { state.withLock { $0.held.count } }

    /// The sequence of the last frame published (-1 before the first).
    var latestSequence: Int { state.withLock { $0.latest } }

    /// The stream's epoch and its last frame's sequence; nil before the first frame.
    var position: StreamPosition? {
        state.withLock { $0.latest == ResumePoint.sequenceBeforeFirst ? nil : StreamPosition(epoch: $0.epoch, sequence: $0.latest) }
    }

    /// Records a frame the producer publishes; call before handing it to the loops,
    /// so that a subscriber joining meanwhile finds it here or in its loop's inbox.
    /// A relayed frame's `epoch` (its producer's run) becomes the stream's epoch, so a
    /// client's `since` means the same on every host that relays it.
    func append(_ frame: EncodedFrame, epoch relayedEpoch: String? = nil) {
        guard limits.keepsFrames else {
            state.withLock { state in
                state.latest = frame.sequence
                if let relayedEpoch, state.epoch != relayedEpoch { state.epoch = relayedEpoch }
            }
            return
        }
        let now = NIODeadline.now()
        // The buffer's capacity is what holding it pins, whatever part the frame fills.
        let held = HeldFrame(frame: frame, heldAt: now, bytes: frame.bytes.capacity)
        state.withLock { state in
            if let relayedEpoch, state.epoch != relayedEpoch {
                // Another run's numbering: the frames held so far cannot serve a `since` of it.
                state.epoch = relayedEpoch
                state.held.removeAll(keepingCapacity: true)
                state.bytes = 0
            }
            state.latest = frame.sequence
            state.held.append(held)
            state.bytes += held.bytes
            evict(&state, now: now)
        }
    }

    /// Continues a predecessor's stream (a reload): its epoch, its latest sequence and
    /// the frames it holds, within this history's own limits.
    func continueStream(of predecessor: FrameHistory) {
        let (epoch, latest, frames) = predecessor.state.withLock { ($0.epoch, $0.latest, Array($0.held)) }
        let now = NIODeadline.now()
        state.withLock { state in
            state.epoch = epoch
            state.latest = latest
            state.held.removeAll()
            state.bytes = 0
            guard limits.keepsFrames else { return }
            for frame in frames {
                state.held.append(frame)
                state.bytes += frame.bytes
            }
            evict(&state, now: now)
        }
    }

    /// What a subscriber joining now is told and sent. Without `since` it gets live
    /// frames from the next one on; with it, every frame after `since.sequence` when
    /// all of them are still held under the same epoch, otherwise none and the count
    /// it missed (when the epoch is the same, so the count means something).
    func resumption(after since: ResumePoint?) -> Resumption {
        let now = NIODeadline.now()
        return state.withLock { state in
            evict(&state, now: now)
            var outcome = ResumeOutcome(epoch: state.epoch, sequence: state.latest)
            guard let since else { return Resumption(outcome: outcome, frames: []) }
            guard since.epoch == state.epoch, since.sequence <= state.latest else {
                outcome.recovered = false
                return Resumption(outcome: outcome, frames: [])
            }
            let wanted = state.latest - since.sequence
            if wanted == 0 {
                outcome.recovered = true
                return Resumption(outcome: outcome, frames: [])
            }
            // Every frame after `since` is held when the oldest held one comes no later
            // than the one right after it: nothing after `since` has been evicted.
            guard let oldest = state.held.first, oldest.frame.sequence <= since.sequence + 1 else {
                outcome.recovered = false
                outcome.missed = wanted
                return Resumption(outcome: outcome, frames: [])
            }
            var start = state.held.endIndex
            while start > state.held.startIndex, state.held[state.held.index(before: start)].frame.sequence > since.sequence {
                start = state.held.index(before: start)
            }
            outcome.recovered = true
            return Resumption(outcome: outcome, frames: state.held[start...].map(\.frame))
        }
    }

    /// Whether this history alone can answer a subscriber joining now: it has seen a
    /// frame (so it knows the stream's epoch), and holds every frame after `since`.
    func answers(_ since: ResumePoint?) -> Bool {
        let now = NIODeadline.now()
        return state.withLock { state in
            // Frames past `seconds` are not held, though nothing newer has pushed them out yet.
            evict(&state, now: now)
            guard state.latest != ResumePoint.sequenceBeforeFirst else { return false }
            guard let since else { return true }
            guard since.epoch == state.epoch, since.sequence <= state.latest else { return false }
            if since.sequence == state.latest { return true }
            return state.held.first.map { $0.frame.sequence <= since.sequence + 1 } ?? false
        }
    }

    /// What a subscriber joining now is told and sent, given what the source replayed
    /// from its own store (`relayed`: its position, and the frames after `since`
    /// through it, encoded). The frames this history holds after that position follow
    /// the replayed ones; frames the source read but has not published yet come live.
    func resumption(after since: ResumePoint?, relayed replay: RelayedReplay) -> Resumption {
        let now = NIODeadline.now()
        return state.withLock { state in
            evict(&state, now: now)
            let position = replay.position
            var outcome = ResumeOutcome(epoch: position.epoch, sequence: position.sequence)
            var frames: [EncodedFrame] = []
            if state.epoch == position.epoch, state.latest > position.sequence {
                // Published since the source's position was read: this history must hold
                // those the client has not seen (after its `since`, when that is further on).
                let seenThrough = since.map { $0.epoch == state.epoch ? max(position.sequence, $0.sequence) : position.sequence } ?? state.latest
                if seenThrough < state.latest, (state.held.first?.frame.sequence).map({ $0 > seenThrough + 1 }) ?? true {
                    outcome.sequence = state.latest
                    if let since {
                        outcome.recovered = false
                        outcome.missed = since.epoch == state.epoch ? state.latest - since.sequence : nil
                    }
                    return Resumption(outcome: outcome, frames: [])
                }
                frames = state.held.filter { $0.frame.sequence > position.sequence }.map(\.frame)
                outcome.sequence = state.latest
            }
            // Without `since` the subscriber takes live frames after the sequence it is told,
            // as on any join: the held ones are at or before it.
            guard let since else { return Resumption(outcome: outcome, frames: []) }
            guard since.epoch == position.epoch else {
                outcome.recovered = false
                return Resumption(outcome: outcome, frames: [])
            }
            if since.sequence >= outcome.sequence {
                // A client further ahead than a history's worth is not believed: it would sit
                // among the joining subscribers, checked on every frame, for as long as it liked.
                guard since.sequence - outcome.sequence <= Self.relayedLead(limits) else {
                    outcome.recovered = false
                    return Resumption(outcome: outcome, frames: [])
                }
                // This host's source is behind the client's: what comes before it comes live, and is skipped.
                outcome.sequence = since.sequence
                outcome.recovered = true
                return Resumption(outcome: outcome, frames: [])
            }
            guard let replayed = replay.frames else {
                outcome.recovered = false
                // Live frames follow from `outcome.sequence` + 1: everything before them is missed.
                outcome.missed = outcome.sequence - since.sequence
                return Resumption(outcome: outcome, frames: [])
            }
            outcome.recovered = true
            // The history's frames follow the source's position, which may be behind the client's `since`.
            return Resumption(outcome: outcome, frames: (replayed + frames).filter { $0.sequence > since.sequence })
        }
    }

    /// How far ahead of this host's relaying source a resuming client may be and still
    /// be told `recovered`: what the history would hold, and at least a few frames of
    /// the source's read lag.
    static func relayedLead(_ limits: Limits) -> Int {
        max(limits.frames, 100)
    }

    private func evict(_ state: inout State, now: NIODeadline) {
        let maxAge = TimeAmount.interval(seconds: limits.seconds)
        while let oldest = state.held.first,
            state.held.count > limits.frames || state.bytes > limits.bytes || now - oldest.heldAt > maxAge
        {
            state.bytes -= oldest.bytes
            state.held.removeFirst()
        }
    }
}
