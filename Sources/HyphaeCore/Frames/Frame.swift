/// One message a pipeline produces: what it is, when, and its structured content.
///
/// Frames stay typed values from the source to the sink; only a sink turns them
/// into bytes, once, however many subscribers read them.
public struct Frame: Sendable, Equatable {
    /// The message type clients see, e.g. `feature_update`.
    public var type: String
    /// Numbers the frames an instance hands to its sinks, +1 per frame from 0.
    /// Stages leave it alone: the pipeline run assigns it at the sink boundary,
    /// except on a frame that carries an `epoch`, whose sequence it keeps.
    public var sequence: Int
    /// Unix time in milliseconds at which the frame was produced.
    public var timestamp: Double
    /// The stage's own fields; `stream_id`, `sequence` and `timestamp` are added on encoding.
    public var payload: JSONObject
    /// Whether dropping the frame would lose what a client cannot get back.
    public var delivery: Delivery
    /// The producing run that numbered this frame, when it was numbered elsewhere and
    /// relayed (the `redis` source sets it, with the producer's `sequence` and
    /// `timestamp`): the pipeline run keeps the sequence of such a frame and numbers
    /// the ones after it from there, so a relayed stream reads the same on every host.
    /// Nil on a frame this run produced.
    public var epoch: String?

    public init(
        type: String,
        timestamp: Double = WallClock.nowMilliseconds(),
        payload: JSONObject = JSONObject(),
        delivery: Delivery = .droppable,
        sequence: Int = 0,
        epoch: String? = nil
    ) {
        self.type = type
        self.sequence = sequence
        self.timestamp = timestamp
        self.payload = payload
        self.delivery = delivery
        self.epoch = epoch
    }
}

extension Frame {
    /// What samplers and backpressure policies may do with a frame.
    public enum Delivery: Sendable, Equatable {
        /// A frame that a newer one supersedes: samplers and full queues may drop it.
        case droppable
        /// A frame that must reach every subscriber, such as the last frame of a finite
        /// stream (`simulation_complete`): samplers always pass it, and queue policies
        /// drop other frames first.
        case essential
    }

    public var isEssential: Bool { delivery == .essential }
}
