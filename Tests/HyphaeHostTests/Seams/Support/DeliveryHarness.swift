import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import NIOCore
import NIOEmbedded

/// Counts the flushes that reach the socket. It sits between the `HeadWriter` and the
/// channel's head, where every pre-encoded frame passes.
final class FlushCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private(set) var flushes = 0

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }
}

/// A socket buffer with room for a given number of frames: the write that fills it
/// calls `onFull`, as NIO fires `channelWritabilityChanged` in the middle of a write
/// that crosses the high-water mark. Unlimited until told otherwise.
final class SocketRoom: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    var frames: Int?
    var onFull: () -> Void = {}

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard let room = frames else { return }
        frames = room - 1
        if room == 1 { onFull() }
    }
}

/// One connection as the Delivery layer sees it: a `ConnectionOutput` over the
/// `HeadWriter` of an `EmbeddedChannel`, set up as the session sets one up, with
/// probes between the writer and the socket.
final class DeliveryConnection {
    let channel: EmbeddedChannel
    let output: ConnectionOutput
    let flushCounter = FlushCounter()
    private let socketRoom = SocketRoom()

    init(loop: EmbeddedEventLoop = EmbeddedEventLoop()) throws {
        // Outbound events run from the HeadWriter toward the head: through the room, then the counter.
        channel = EmbeddedChannel(handlers: [flushCounter, socketRoom, HeadWriter()], loop: loop)
        output = ConnectionOutput(context: try channel.pipeline.syncOperations.context(handlerType: HeadWriter.self))
        socketRoom.onFull = { [output] in output.isWritable = false }
    }

    /// Whether the socket takes data; what the session sets from `channelWritabilityChanged`.
    var isWritable: Bool {
        get { output.isWritable }
        set { output.isWritable = newValue }
    }

    /// Makes the socket writable with room for `count` frames, after which it is full again.
    func makeRoom(forFrames count: Int) {
        socketRoom.frames = count
        output.isWritable = true
    }

    var flushes: Int { flushCounter.flushes }

    /// What has reached the socket, oldest first. Delivery leaves flushing to its caller
    /// (the loop's fan-out or the session flush once per batch), so unflushed writes wait.
    func received() throws -> [ServerFrame] {
        var frames: [ServerFrame] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            frames.append(try ServerFrame(decoding: buffer))
        }
        return frames
    }

    /// Flushes as a delivery's caller would, then returns what reached the socket.
    func flushedFrames() throws -> [ServerFrame] {
        output.flush()
        return try received()
    }
}

/// Records what its subscriptions tell their connection.
final class RecordingOwner: SubscriptionOwner {
    private(set) var ended: [String] = []
    private(set) var slowConsumers: [String] = []

    func subscriptionEnded(_ subscription: Subscription) {
        ended.append(subscription.streamID)
    }

    func slowConsumerDetected(_ subscription: Subscription) {
        slowConsumers.append(subscription.streamID)
    }
}

/// Subscriptions of one fan-out, by default on one connection.
final class DeliveryHarness {
    let connection: DeliveryConnection
    let fanOut: FanOut
    let owner = RecordingOwner()

    init(loop: EmbeddedEventLoop = EmbeddedEventLoop(), history: FrameHistory.Limits = .none) throws {
        connection = try DeliveryConnection(loop: loop)
        fanOut = FanOut(metrics: PipelineMetrics(), batchWindow: .zero, history: history)
    }

    func subscribe(
        _ streamID: String = "s", on connection: DeliveryConnection? = nil, policy: BackpressurePolicy = .dropOldest, capacity: Int = 1000,
        byteCapacity: Int = .max, budget: QueuedBytesBudget? = nil
    ) -> Subscription {
        let subscription = Subscription(
            streamID: streamID, pipeline: "ticks", policy: policy, capacity: capacity, byteCapacity: byteCapacity, budget: budget,
            output: (connection ?? self.connection).output, fanOut: fanOut, params: ResolvedParams(values: [:], setBySubscriber: []))
        subscription.owner = owner
        return subscription
    }

    /// A subscription on the harness's connection after its socket stopped taking data,
    /// with the frames numbered `frames` offered to it in order (those in `essential` as
    /// essential frames), so that its policy has acted on them.
    func stalledSubscription(
        policy: BackpressurePolicy = .dropOldest, capacity: Int = 1000, holding frames: [Int], essential: Set<Int> = []
    ) -> Subscription {
        let subscription = subscribe(policy: policy, capacity: capacity)
        connection.isWritable = false
        for sequence in frames { _ = subscription.offer(frame: sequence, essential: essential.contains(sequence)) }
        return subscription
    }
}

/// Data frames numbered by their sequence, so that whoever receives them can tell which they are.
enum NumberedFrames {
    static func encoded(_ sequence: Int, essential: Bool = false) -> EncodedFrame {
        var encoder = FrameEncoder()
        return encoder.encode(Frame(
            type: "tick", timestamp: 1_764_756_000_000 + Double(sequence), payload: ["count": .int(sequence + 1)],
            delivery: essential ? .essential : .droppable, sequence: sequence))
    }
}

extension Subscription {
    /// Offers the data frame numbered `sequence`, as the fan-out builds it for this stream id.
    func offer(frame sequence: Int, essential: Bool = false) -> OfferOutcome {
        let message = ServerFrames.data(NumberedFrames.encoded(sequence, essential: essential), escapedStreamID: escapedStreamID, allocator: output.allocator)
        return offer(message, isEssential: essential)
    }
}

extension ServerFrame {
    /// `#n` for the data frame numbered n, the type of any other message, `close CODE` for a close frame.
    var label: String {
        if let sequence = message?.sequence { return "#\(sequence)" }
        if let type = message?.type { return type }
        if case .close(let code, _) = self { return "close \(code)" }
        return description
    }
}
