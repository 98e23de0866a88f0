import HyphaeCore

/// The `websocket` sink: encodes each frame once and publishes it to the instance's
/// fan-out, which the host lends the run through the stage context. It holds the run
/// back only while the loops, or a `block` queue, have no room.
struct WebSocketSink: SinkStage {
    static let stageType = "websocket"
    static let summary = "serves the stream to WebSocket subscribers at a path, with a bounded queue and a backpressure policy per subscription"

    /// Nil for a pipeline's second and later `websocket` sinks: the first one feeds
    /// the fan-out that serves every path of the pipeline.
    private let fanOut: FanOut?
    private var encoder = FrameEncoder()
    /// Compresses each frame once for every permessage-deflate subscriber, where it is encoded.
    private let deflater = FrameDeflater()

    init(configuration: WebSocketSinkConfiguration, context: StageContext) throws {
        guard let fanOut = context.resources[FanOut.self] else {
            throw StageError("the websocket sink serves subscribers inside 'hyphae serve' only; use 'hyphae tap' to print a pipeline's frames")
        }
        self.fanOut = fanOut.claimFeed() ? fanOut : nil
    }

    mutating func consume(_ frame: Frame) async throws {
        guard let fanOut else { return }
        let encoded = encoder.encode(frame)
        fanOut.publish(encoded, deflated: fanOut.wantsCompressedFrames ? deflater.deflate(encoded) : nil, epoch: frame.epoch)
        await fanOut.waitUntilOpen()
    }

    mutating func finish(_ end: StreamEnd) async {
        guard let fanOut, end != .cancelled else { return }
        let notice = StreamNotice(end)
        fanOut.forEachSubscriptionAfterWaitingFrames { $0.notify(notice) }
    }
}
