import HyphaeCore
import HyphaeProtocol
import NIOCore

/// One pipeline instance's subscribers on one event loop. The producer hands it each
/// frame once, through the loop's `FrameInbox`; it builds the message once per stream
/// id, offers it to every subscriber under that id, and flushes each touched socket
/// once per batch.
///
/// Confined to its loop: only the loop's own jobs touch it.
final class LoopFanOut {
    /// The subscribers who read one message: the same stream id, and the same choice of
    /// compressed or plain frames.
    private struct GroupKey: Hashable {
        var streamID: String
        var isCompressed: Bool

        init(_ subscription: Subscription) {
            streamID = subscription.streamID
            // A stream id too long for a stored block is read plain (DeflatedFrame).
            isCompressed = subscription.output.acceptsCompressedFrames && DeflatedFrame.canCarry(escapedStreamID: subscription.escapedStreamID)
        }
    }

    private struct StreamGroup {
        var escapedStreamID: [UInt8]
        var isCompressed: Bool
        var members: [Subscription]
    }

    let eventLoop: EventLoop
    private let metrics: PipelineMetrics
    private var groups: [StreamGroup] = []
    private var groupIndex: [GroupKey: Int] = [:]
    private let compressedSubscriptions: SubscriptionCount
    /// Subscriptions that joined after the frame numbered `through`, until a later one
    /// comes: frames already on their way to this loop when they joined are not theirs.
    private var joining: [(subscription: Subscription, through: Int)] = []
    private var pendingFlush: [ConnectionOutput] = []
    /// The frames being delivered; swapped with the inbox's, so it keeps its capacity.
    private var batch: [PublishedFrame] = []
    /// The queue depth this loop last reported to the pipeline's gauge.
    private var reportedQueueDepth = 0
    /// Set once the instance is gone: its share of the gauge is withdrawn for good.
    private var isRetired = false

    init(eventLoop: EventLoop, metrics: PipelineMetrics, compressedSubscriptions: SubscriptionCount) {
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.compressedSubscriptions = compressedSubscriptions
    }

    var isEmpty: Bool { groups.isEmpty && joining.isEmpty }

    var subscriptions: [Subscription] { groups.flatMap(\.members) + joining.map(\.subscription) }

    /// Adds a subscription that has been sent every frame up to `through`: first
    /// `replay` (oldest first, through its queue and policy), then, live, each frame
    /// numbered after `through`.
    func add(_ subscription: Subscription, replaying replay: [EncodedFrame], after through: Int) {
        if !replay.isEmpty {
            var tally = DeliveryTally()
            for frame in replay {
                let message = ServerFrames.data(frame, escapedStreamID: subscription.escapedStreamID, allocator: subscription.output.allocator)
                let outcome = subscription.offer(message, isEssential: frame.delivery == .essential)
                if case .written = outcome { tally.sent += 1 }
                tally.drops.add(outcome.framesDropped, policy: subscription.policy)
            }
            subscription.output.flush()
            if tally.sent > 0 { metrics.framesSent.add(tally.sent) }
            tally.drops.report(to: metrics)
        }
        // Counted now, not when admitted: the producer must start compressing before the
        // first live frame this subscriber takes.
        if GroupKey(subscription).isCompressed { compressedSubscriptions.add(1) }
        joining.append((subscription, through))
    }

    /// Lets the joining subscriptions that have had every frame before `sequence` take it.
    private func admitJoining(before sequence: Int) {
        joining.removeAll { entry in
            guard entry.through < sequence else { return false }
            insert(entry.subscription)
            return true
        }
    }

    /// Adds a subscription that takes every frame from the next one on.
    func add(_ subscription: Subscription) {
        if GroupKey(subscription).isCompressed { compressedSubscriptions.add(1) }
        insert(subscription)
    }

    /// Puts a counted subscription into its group.
    private func insert(_ subscription: Subscription) {
        let key = GroupKey(subscription)
        if let index = groupIndex[key] {
            groups[index].members.append(subscription)
        } else {
            groupIndex[key] = groups.count
            groups.append(StreamGroup(escapedStreamID: subscription.escapedStreamID, isCompressed: key.isCompressed, members: [subscription]))
        }
    }

    func remove(_ subscription: Subscription) {
        let key = GroupKey(subscription)
        if let joined = joining.firstIndex(where: { $0.subscription === subscription }) {
            joining.remove(at: joined)
            if key.isCompressed { compressedSubscriptions.add(-1) }
            return
        }
        guard let index = groupIndex[key] else { return }
        let countBefore = groups[index].members.count
        groups[index].members.removeAll { $0 === subscription }
        if key.isCompressed { compressedSubscriptions.add(groups[index].members.count - countBefore) }
        guard groups[index].members.isEmpty else { return }
        groups.remove(at: index)
        groupIndex = Dictionary(uniqueKeysWithValues: groups.enumerated().map { (GroupKey($0.element.members[0]), $0.offset) })
    }

    /// Takes every frame waiting in `inbox` and delivers them, oldest first, to every
    /// subscriber on this loop; each touched socket is flushed once, after the last, so
    /// that frames which piled up while the loop was busy leave in one write. Returns how
    /// many frames it took.
    func deliverWaiting(from inbox: FrameInbox) -> Int {
        inbox.take(into: &batch)
        let taken = batch.count
        guard taken > 0 else { return 0 }
        var tally = DeliveryTally()
        // A lone frame is written and flushed in one pass per socket; several are written
        // first and flushed together, so that each socket takes them in one syscall.
        let flushesEach = taken == 1
        for (index, frame) in batch.enumerated() {
            offer(frame, flushesEach: flushesEach, isLastOfBatch: index == taken - 1, tally: &tally)
        }
        batch.removeAll(keepingCapacity: true)
        flushPending()
        if tally.sent > 0 { metrics.framesSent.add(tally.sent) }
        tally.drops.report(to: metrics)
        if !isRetired, tally.queueDepth != reportedQueueDepth {
            metrics.queuedFrames.add(tally.queueDepth - reportedQueueDepth)
            reportedQueueDepth = tally.queueDepth
        }
        return taken
    }

    /// Offers one frame to every subscriber; unless `flushesEach`, the sockets it
    /// writes to are flushed by `flushPending`. Only the batch's last frame sums the
    /// queue depth, which is all the gauge reports.
    private func offer(_ frame: PublishedFrame, flushesEach: Bool, isLastOfBatch: Bool, tally: inout DeliveryTally) {
        if !joining.isEmpty { admitJoining(before: frame.encoded.sequence) }
        let allocator = ByteBufferAllocator()
        let isEssential = frame.encoded.delivery == .essential
        var queueDepth = 0
        for group in groups {
            let message: ByteBuffer
            if group.isCompressed, let deflated = frame.deflated {
                message = deflated.message(escapedStreamID: group.escapedStreamID, allocator: allocator)
            } else {
                message = ServerFrames.data(frame.encoded, escapedStreamID: group.escapedStreamID, allocator: allocator)
            }
            for subscription in group.members {
                let outcome = subscription.offer(message, isEssential: isEssential, flushNow: flushesEach)
                if case .written = outcome { tally.sent += 1 }
                tally.drops.add(outcome.framesDropped, policy: subscription.policy)
                if isLastOfBatch { queueDepth += subscription.queuedCount }
                guard !flushesEach else { continue }
                let output = subscription.output
                if !output.needsFlush {
                    output.needsFlush = true
                    pendingFlush.append(output)
                }
            }
        }
        if isLastOfBatch { tally.queueDepth = queueDepth }
        metrics.sendLatency.observe(seconds: (WallClock.nowMilliseconds() - frame.encoded.timestamp) / 1000)
    }

    /// Calls `body` for every subscription on this loop (to tell each about its stream),
    /// then flushes every socket it touched.
    func forEachSubscription(_ body: (Subscription) -> Void) {
        for subscription in subscriptions {
            body(subscription)
            let output = subscription.output
            if !output.needsFlush {
                output.needsFlush = true
                pendingFlush.append(output)
            }
        }
        flushPending()
    }

    /// Withdraws this loop's share of the queue-depth gauge once its instance is gone.
    func retire() {
        guard !isRetired else { return }
        isRetired = true
        metrics.queuedFrames.subtract(reportedQueueDepth)
        reportedQueueDepth = 0
    }

    private func flushPending() {
        for output in pendingFlush { output.flush() }
        pendingFlush.removeAll(keepingCapacity: true)
    }
}

/// What delivering a batch did, reported to the metrics once per batch.
private struct DeliveryTally {
    var sent = 0
    var drops = DropTally()
    var queueDepth = 0
}

/// Frames dropped while delivering, by policy, counted without allocating.
private struct DropTally {
    private var counts: (Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0)

    mutating func add(_ count: Int, policy: BackpressurePolicy) {
        guard count > 0 else { return }
        switch policy {
        case .dropOldest: counts.0 += count
        case .dropNewest: counts.1 += count
        case .compress: counts.2 += count
        case .close: counts.3 += count
        case .block: counts.4 += count
        }
    }

    func report(to metrics: PipelineMetrics) {
        if counts.0 > 0 { metrics.dropped(counts.0, policy: .dropOldest) }
        if counts.1 > 0 { metrics.dropped(counts.1, policy: .dropNewest) }
        if counts.2 > 0 { metrics.dropped(counts.2, policy: .compress) }
        if counts.3 > 0 { metrics.dropped(counts.3, policy: .close) }
        if counts.4 > 0 { metrics.dropped(counts.4, policy: .block) }
    }
}
