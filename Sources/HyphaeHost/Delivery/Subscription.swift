import HyphaeCore
import HyphaeProtocol
import NIOCore

/// One subscriber's view of a pipeline instance: its bounded queue, its policy and
/// its counters. Confined to its connection's event loop, so nothing here locks.
final class Subscription {
    private struct QueuedMessage {
        var buffer: ByteBuffer
        var isEssential: Bool
        /// The subscription's last message (`stream_end`): once written, it is over.
        var endsStream: Bool
        /// Data frames count in `packets_sent`; messages about the stream do not.
        var countsAsFrame = true
    }

    /// The waiting messages and their bytes, which also count against the host's budget.
    private struct MessageQueue {
        private(set) var messages = CircularBuffer<QueuedMessage>(initialCapacity: 4)
        private(set) var bytes = 0
        let budget: QueuedBytesBudget?

        var count: Int { messages.count }
        var isEmpty: Bool { messages.isEmpty }

        mutating func append(_ message: QueuedMessage) {
            messages.append(message)
            account(message.buffer.readableBytes)
        }

        mutating func popFirst() -> QueuedMessage? {
            guard let message = messages.popFirst() else { return nil }
            account(-message.buffer.readableBytes)
            return message
        }

        mutating func remove(at index: CircularBuffer<QueuedMessage>.Index) {
            account(-messages.remove(at: index).buffer.readableBytes)
        }

        mutating func removeAll() {
            account(-bytes)
            messages.removeAll()
        }

        /// Keeps the messages `keep` approves of, in order; returns how many went.
        mutating func retain(_ keep: (_ position: Int, _ message: QueuedMessage) -> Bool) -> Int {
            var kept = CircularBuffer<QueuedMessage>(initialCapacity: messages.count)
            var removedBytes = 0
            for (position, message) in messages.enumerated() {
                if keep(position, message) { kept.append(message) } else { removedBytes += message.buffer.readableBytes }
            }
            let removed = messages.count - kept.count
            messages = kept
            account(-removedBytes)
            return removed
        }

        private mutating func account(_ delta: Int) {
            guard delta != 0 else { return }
            bytes += delta
            if delta > 0 { budget?.add(delta) } else { budget?.subtract(-delta) }
        }
    }

    let streamID: String
    let escapedStreamID: [UInt8]
    let pipeline: String
    let policy: BackpressurePolicy
    let capacity: Int
    /// The bytes the queue may hold before the policy acts, as `capacity` bounds its frames.
    let byteCapacity: Int
    let startedAt: NIODeadline
    let output: ConnectionOutput
    weak var owner: (any SubscriptionOwner)?
    /// Whether the subscriber asked for `stream_status` notices (`"stream_status": true`
    /// in its `subscribe`): a client that follows the shared contract alone never gets one.
    var wantsStreamStatus = false
    /// Whether the last `stream_status` it was sent said `stalled`: a notice that would
    /// repeat it (one at the join and the same change reaching every subscriber) is not sent.
    var toldStalled = false
    /// Where the frames come from; replaced when a reload moves the subscription.
    private(set) var fanOut: FanOut
    private(set) var params: ResolvedParams

    private(set) var packetsSent = 0
    private(set) var droppedFrames = 0
    private var queue: MessageQueue
    private(set) var isFinished = false
    /// The last message is queued: nothing more may join the queue behind it.
    private var isEnding = false
    /// Whether this queue currently holds a `block` producer back.
    private var holdsProducer = false

    init(
        streamID: String, pipeline: String, policy: BackpressurePolicy, capacity: Int,
        byteCapacity: Int = .max, budget: QueuedBytesBudget? = nil,
        output: ConnectionOutput, fanOut: FanOut, params: ResolvedParams
    ) {
        self.byteCapacity = byteCapacity
        queue = MessageQueue(budget: budget)
        self.streamID = streamID
        escapedStreamID = FrameEncoder.escapedStreamID(streamID)
        self.pipeline = pipeline
        self.policy = policy
        self.capacity = capacity
        self.output = output
        self.fanOut = fanOut
        self.params = params
        startedAt = .now()
    }

    var queuedCount: Int { queue.count }

    /// The data frames waiting in the queue, without the notices between them.
    var queuedFrameCount: Int {
        queue.messages.reduce(0) { $0 + ($1.countsAsFrame ? 1 : 0) }
    }

    /// The bytes waiting in the queue.
    var queuedBytes: Int { queue.bytes }

    /// Whether the policy must act on the next frame: the queue holds its frames or its
    /// bytes, or the host's queues together hold theirs.
    private var isFull: Bool {
        queue.count >= capacity || queue.bytes >= byteCapacity || (queue.budget?.isExhausted ?? false)
    }

    /// Offers a data frame. Writes it at once when the socket takes it and nothing
    /// is queued before it (and flushes it too when `flushNow`; otherwise the caller
    /// flushes); otherwise queues it, applying the policy when full.
    @inline(__always)
    func offer(_ buffer: ByteBuffer, isEssential: Bool, flushNow: Bool = false) -> OfferOutcome {
        guard !isFinished, !isEnding else { return .refused }
        if queue.isEmpty, output.isWritable {
            if flushNow {
                output.writeAndFlush(buffer)
            } else {
                output.write(buffer)
            }
            packetsSent += 1
            return .written
        }
        return enqueue(QueuedMessage(buffer: buffer, isEssential: isEssential, endsStream: false))
    }

    /// Sends a message about the stream (`stream_reloaded`, an `error`) in order with
    /// its frames: after those queued, before those to come. It is never dropped.
    func offerNotice(_ buffer: ByteBuffer) {
        guard !isFinished, !isEnding else { return }
        if queue.isEmpty, output.isWritable {
            output.write(buffer)
            return
        }
        queue.append(QueuedMessage(buffer: buffer, isEssential: true, endsStream: false, countsAsFrame: false))
    }

    /// Moves the subscription to another fan-out (a reload), keeping its queue.
    func move(to newFanOut: FanOut, params newParams: ResolvedParams) {
        releaseProducer()
        fanOut = newFanOut
        params = newParams
        holdProducerIfFull()
    }

    /// Queues the subscription's last message behind its frames; it is never dropped.
    /// When `discardingQueued` (the host is going away), the queued frames are dropped
    /// and the message is written at once, even to a socket that is not taking data.
    func end(with buffer: ByteBuffer, discardingQueued: Bool = false) {
        guard !isFinished else { return }
        if discardingQueued { queue.removeAll() }
        if discardingQueued || (queue.isEmpty && output.isWritable) {
            output.write(buffer)
            finish()
            return
        }
        isEnding = true
        queue.append(QueuedMessage(buffer: buffer, isEssential: true, endsStream: true, countsAsFrame: false))
    }

    /// Writes queued messages while the socket takes them. Returns how many left the queue.
    func drain() -> Int {
        var written = 0
        var framesWritten = 0
        while output.isWritable, let next = queue.popFirst() {
            output.write(next.buffer)
            written += 1
            if next.endsStream {
                finish()
                break
            }
            if next.countsAsFrame { framesWritten += 1 }
        }
        // Frames that waited in the queue count as sent when they are written, as those
        // written at once do (LoopFanOut counts those).
        packetsSent += framesWritten
        if framesWritten > 0 { fanOut.metrics.framesSent.add(framesWritten) }
        releaseProducerIfRoom()
        return written
    }

    /// Stops delivery: queued frames are discarded (the subscriber asked to stop, or
    /// the connection is gone). Returns how many were discarded.
    @discardableResult
    func cancel() -> Int {
        let discarded = queue.count
        queue.removeAll()
        isFinished = true
        releaseProducer()
        return discarded
    }

    private func finish() {
        isFinished = true
        queue.removeAll()
        releaseProducer()
        owner?.subscriptionEnded(self)
    }

    private func enqueue(_ message: QueuedMessage) -> OfferOutcome {
        if !isFull {
            queue.append(message)
            holdProducerIfFull()
            return .queued(dropping: 0)
        }
        switch policy {
        case .dropOldest:
            // The oldest frame a newer one supersedes; essential frames stay.
            return admitIntoFullQueue(message, evicting: queue.messages.firstIndex { !$0.isEssential })
        case .dropNewest:
            // The newest frame goes, unless it is essential: then the newest one that is not.
            return admitIntoFullQueue(message, evicting: message.isEssential ? queue.messages.lastIndex { !$0.isEssential } : nil)
        case .compress:
            // Keep the 1st, 3rd, 5th ... queued frames (oldest first) and the essential ones.
            let discarded = queue.retain { position, queued in position % 2 == 0 || queued.isEssential }
            queue.append(message)
            droppedFrames += discarded
            return .queued(dropping: discarded)
        case .close:
            // PROTOCOL.md counts the queue's length as dropped.
            let discarded = queue.count
            droppedFrames += discarded
            queue.removeAll()
            isFinished = true
            owner?.slowConsumerDetected(self)
            return .overflowed(dropping: discarded)
        case .block:
            // The producer waits before its next frame; the one already under way still fits.
            queue.append(message)
            holdProducerIfFull()
            return .queued(dropping: 0)
        }
    }

    /// Makes room in a full queue by evicting the frame at `victim`; without one, an
    /// essential message goes in over capacity and any other is dropped.
    private func admitIntoFullQueue(
        _ message: QueuedMessage, evicting victim: CircularBuffer<QueuedMessage>.Index?
    ) -> OfferOutcome {
        droppedFrames += victim == nil && message.isEssential ? 0 : 1
        if let victim {
            queue.remove(at: victim)
            queue.append(message)
            return .queued(dropping: 1)
        }
        guard message.isEssential else { return .droppedOnArrival }
        queue.append(message)
        return .queued(dropping: 0)
    }

    private func holdProducerIfFull() {
        guard policy == .block, !holdsProducer, isFull else { return }
        holdsProducer = true
        fanOut.gate.queueFilled()
    }

    private func releaseProducerIfRoom() {
        if !isFull { releaseProducer() }
    }

    private func releaseProducer() {
        guard holdsProducer else { return }
        holdsProducer = false
        fanOut.gate.queueDrained()
    }

    var durationSeconds: Double {
        Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9
    }
}
