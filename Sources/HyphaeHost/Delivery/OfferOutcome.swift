/// What offering a frame to a subscription did, so that the fan-out counts from
/// what happened rather than from counters it would have to diff.
enum OfferOutcome: Equatable {
    /// Written to the socket.
    case written
    /// Queued behind earlier frames, after the policy dropped `dropping` queued frames to make room.
    case queued(dropping: Int)
    /// The policy dropped the frame itself (`drop_newest`, or `drop_oldest` with only essential frames queued).
    case droppedOnArrival
    /// The `close` policy: the queue overflowed, was discarded (`dropping` frames) and the subscription ends.
    case overflowed(dropping: Int)
    /// The subscription has finished and takes no more frames.
    case refused

    /// The frames this offer cost the subscriber.
    var framesDropped: Int {
        switch self {
        case .written, .refused: 0
        case .queued(let dropping), .overflowed(let dropping): dropping
        case .droppedOnArrival: 1
        }
    }
}
