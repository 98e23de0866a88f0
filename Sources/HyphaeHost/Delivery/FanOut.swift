import HyphaeCore
import HyphaeProtocol
import NIOCore
import Synchronization

/// One pipeline instance's subscribers, spread over the event loops, and the way its
/// frames reach them: each frame goes once into the inbox of every loop that has
/// subscribers (`FrameInbox`), and that loop's `LoopFanOut` writes it to each of them.
///
/// The producer side (`publish`, `waitUntilOpen`) runs in the pipeline's task; the
/// rest is called on the loops. The host lends it to the run's `websocket` sink as a
/// stage resource.
final class FanOut: StageResource {
    /// One event loop's share: its subscribers and the frames waiting for it.
    struct LoopHandle: Sendable {
        let eventLoop: EventLoop
        let fanOut: NIOLoopBound<LoopFanOut>
        let inbox: FrameInbox
    }

    let metrics: PipelineMetrics
    let gate: ProducerGate
    /// The recent frames and the epoch, for subscribers that resume.
    let history: FrameHistory
    /// How long a frame may wait on its loop for later ones (`batch_window_ms`).
    private let batchWindow: TimeAmount
    private let loops = Mutex<[LoopHandle]>([])
    /// The sequence number the next frame will carry; a reload's successor starts there.
    private let nextSequence = Atomic<Int>(0)
    /// Whether a sink feeds this fan-out: a pipeline's several `websocket` sinks share it,
    /// and only the first one built publishes.
    private let isFed = Atomic<Bool>(false)
    /// How many subscriptions, on every loop, take compressed frames (permessage-deflate).
    let compressedSubscriptions = SubscriptionCount()

    init(metrics: PipelineMetrics, batchWindow: TimeAmount, history: FrameHistory.Limits = .none) {
        self.metrics = metrics
        self.batchWindow = batchWindow
        self.history = FrameHistory(limits: history)
        // A few frames per loop in flight keep the loops busy without letting the producer run ahead.
        gate = ProducerGate(limit: 16)
    }

    // MARK: The producer's side

    /// Whether the caller is the sink that feeds this fan-out; true once only.
    func claimFeed() -> Bool {
        !isFed.exchange(true, ordering: .relaxed)
    }

    /// Whether the producer should compress its frames (once each) for permessage-deflate
    /// subscribers. One who arrives between this check and the frame gets it plain.
    var wantsCompressedFrames: Bool {
        compressedSubscriptions.isPositive
    }

    /// Hands a frame to every loop with subscribers: into its inbox, scheduling a job
    /// on the loop only when none is pending (see `FrameInbox`).
    /// `epoch` is a relayed frame's producing run (nil for a frame this host numbered).
    func publish(_ encoded: EncodedFrame, deflated: DeflatedFrame? = nil, epoch: String? = nil) {
        metrics.framesEmitted.add(1)
        nextSequence.store(encoded.sequence + 1, ordering: .relaxed)
        // Before the loops are read: a subscriber joining meanwhile finds the frame in
        // the history, or has its loop registered in time to get it live (`join`).
        // The history keeps the plain encoding: a replay goes out uncompressed, which
        // permessage-deflate allows message by message.
        history.append(encoded, epoch: epoch)
        let frame = PublishedFrame(encoded: encoded, deflated: deflated)
        let handles = loops.withLock { $0 }
        gate.dispatched(handles.count)
        for handle in handles where handle.inbox.append(frame) {
            let deliver: @Sendable () -> Void = { [self] in _ = afterWaitingFrames(handle) }
            if batchWindow == .zero {
                handle.eventLoop.execute(deliver)
            } else {
                handle.eventLoop.scheduleTask(in: batchWindow, deliver)
            }
        }
    }

    /// Returns once the loops have room for more frames (and no `block` queue is full).
    func waitUntilOpen() async {
        await gate.waitUntilOpen()
    }

    /// The sequence number the next frame would have had.
    var sequenceAfterLastFrame: Int {
        nextSequence.load(ordering: .relaxed)
    }

    /// Starts the numbering where a predecessor stopped.
    func continueSequence(at sequence: Int) {
        nextSequence.store(sequence, ordering: .relaxed)
    }

    /// Lets a held-back producer go for good: its run is being stopped.
    func close() {
        gate.close()
    }

    // MARK: The loops' side

    /// Every loop's share.
    var handles: [LoopHandle] {
        loops.withLock { $0 }
    }

    /// The subscribers on `eventLoop`; call on that loop.
    func loop(_ eventLoop: EventLoop) -> LoopFanOut {
        let handle = loops.withLock { handles -> LoopHandle in
            if let existing = handles.first(where: { $0.eventLoop === eventLoop }) { return existing }
            let created = LoopHandle(
                eventLoop: eventLoop,
                fanOut: NIOLoopBound(LoopFanOut(eventLoop: eventLoop, metrics: metrics, compressedSubscriptions: compressedSubscriptions), eventLoop: eventLoop),
                inbox: FrameInbox()
            )
            handles.append(created)
            return created
        }
        return handle.fanOut.value
    }

    /// Adds a subscription on `eventLoop` (call on that loop) and sends it what it
    /// asked for: with `since`, the frames it missed when they are all held. `before`
    /// gets what `subscribe_success` tells it, and writes that reply ahead of the frames.
    ///
    /// The loop's share exists before the history is read, so a frame published after
    /// that reaches this loop's inbox; the subscription skips the ones it already has.
    func join(_ subscription: Subscription, on eventLoop: EventLoop, since: ResumePoint?, before tell: (ResumeOutcome) -> Void) {
        let fanOut = loop(eventLoop)
        let resumption = history.resumption(after: since)
        tell(resumption.outcome)
        fanOut.add(subscription, replaying: resumption.frames, after: resumption.outcome.sequence)
    }

    /// As `join(_:on:since:before:)`, for a subscriber whose frames the source replayed
    /// from its own store because this history could not answer (`FrameHistory.answers`).
    func join(
        _ subscription: Subscription, on eventLoop: EventLoop, since: ResumePoint?, relayed: FrameHistory.RelayedReplay,
        before tell: (ResumeOutcome) -> Void
    ) {
        let fanOut = loop(eventLoop)
        let resumption = history.resumption(after: since, relayed: relayed)
        tell(resumption.outcome)
        fanOut.add(subscription, replaying: resumption.frames, after: resumption.outcome.sequence)
    }

    /// Withdraws a subscription from its loop; call on that loop.
    func detach(_ subscription: Subscription, on eventLoop: EventLoop) {
        let handle = loops.withLock { $0.first { $0.eventLoop === eventLoop } }
        handle?.fanOut.value.remove(subscription)
    }

    /// Delivers the frames waiting in `handle`'s inbox and returns its loop's fan-out;
    /// call on its loop. Whatever is written to the subscribers next (`stream_end`,
    /// `stream_reloaded`) then follows every frame published before it, even when a
    /// batch window still holds them.
    func afterWaitingFrames(_ handle: LoopHandle) -> LoopFanOut {
        let fanOut = handle.fanOut.value
        gate.completed(fanOut.deliverWaiting(from: handle.inbox))
        return fanOut
    }

    /// On every loop, after the frames waiting there: `body` for each subscription,
    /// then one flush per socket.
    func forEachSubscriptionAfterWaitingFrames(_ body: @escaping @Sendable (Subscription) -> Void) {
        for handle in handles {
            handle.eventLoop.execute { [self] in
                afterWaitingFrames(handle).forEachSubscription(body)
            }
        }
    }

    /// Withdraws every loop's share of the queue-depth gauge: the instance is gone.
    func retire() {
        for handle in handles {
            handle.eventLoop.execute { handle.fanOut.value.retire() }
        }
    }
}

/// A count shared by the loops (which change it) and the producer (which reads it).
final class SubscriptionCount: Sendable {
    private let count = Atomic<Int>(0)

    func add(_ delta: Int) {
        count.add(delta, ordering: .relaxed)
    }

    var isPositive: Bool {
        count.load(ordering: .relaxed) > 0
    }
}
