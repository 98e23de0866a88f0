import HyphaeCore
import Logging
import NIOCore
import Synchronization

/// One running copy of a pipeline: its run's task, and its subscribers spread over
/// the event loops. The run's WebSocket sink hands each frame to every loop that
/// has subscribers, once.
final class PipelineInstance: Sendable {
    struct FanOutHandle: Sendable {
        let eventLoop: EventLoop
        let fanOut: NIOLoopBound<LoopFanOut>
        let inbox: FrameInbox
    }

    let id: String
    let pipeline: String
    let configuration: PipelineConfiguration
    let gate: ProducerGate
    let metrics: PipelineMetrics
    private let fanOuts = Mutex<[FanOutHandle]>([])
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// The sequence number the run will give its next frame; a reload starts the
    /// next version from here so that subscribers see numbers go on increasing.
    private let nextSequence = Atomic<Int>(0)
    /// The shortest `batch_window_ms` of the pipeline's WebSocket sinks, which share this fan-out.
    private let batchWindow: TimeAmount
    private let logger: Logger
    private let onEnd: @Sendable (PipelineInstance, StreamEnd) -> Void

    init(
        id: String, configuration: PipelineConfiguration, metrics: PipelineMetrics, logger: Logger,
        onEnd: @escaping @Sendable (PipelineInstance, StreamEnd) -> Void
    ) {
        self.id = id
        pipeline = configuration.pipeline
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.onEnd = onEnd
        // A few frames per loop in flight keep the loops busy without letting the producer run ahead.
        gate = ProducerGate(limit: 16)
        let windows = configuration.sinks.compactMap { ($0.configuration as? WebSocketSinkConfiguration)?.batchWindowMilliseconds }
        batchWindow = .milliseconds(Int64(windows.min() ?? 0))
    }

    var version: String { configuration.version }

    /// This instance's subscribers on `eventLoop`; call on that loop.
    func fanOut(on eventLoop: EventLoop) -> LoopFanOut {
        let handle = fanOuts.withLock { handles -> FanOutHandle in
            if let existing = handles.first(where: { $0.eventLoop === eventLoop }) { return existing }
            let created = FanOutHandle(
                eventLoop: eventLoop,
                fanOut: NIOLoopBound(LoopFanOut(eventLoop: eventLoop, metrics: metrics), eventLoop: eventLoop),
                inbox: FrameInbox()
            )
            handles.append(created)
            return created
        }
        return handle.fanOut.value
    }

    /// Starts the run unless it is running; the first subscriber is attached by then,
    /// so a finite run's first frame reaches it.
    func startIfNeeded(sequence: Int = 0) {
        task.withLock { task in
            guard task == nil else { return }
            metrics.instances.add(1)
            let context = StageContext(pipeline: pipeline, instance: id, logger: logger)
            nextSequence.store(sequence, ordering: .relaxed)
            task = Task { [self] in
                let end: StreamEnd
                do {
                    var run = try PipelineRun(configuration: configuration, context: context, sinks: try makeSinks(context: context))
                    run.sequence = sequence
                    end = await run.run()
                } catch {
                    end = .failed("the pipeline could not start: \(error)")
                    publishEnd(end)
                }
                metrics.instances.subtract(1)
                logger.info("instance ended", metadata: ["event": "instance_ended", "instance": "\(id)", "end": "\(end)"])
                onEnd(self, end)
            }
            logger.info("instance started", metadata: ["event": "instance_started", "pipeline": "\(pipeline)", "instance": "\(id)"])
        }
    }

    /// Cancels the run; its subscribers have left, or are told by whoever stops it.
    func stop() {
        gate.close()
        task.withLock { $0?.cancel() }
    }

    /// Stops the run and waits for its task to end; returns the sequence number its
    /// next frame would have had.
    func stopAndWait() async -> Int {
        stop()
        let running = task.withLock { $0 }
        await running?.value
        return nextSequence.load(ordering: .relaxed)
    }

    /// Makes every stage of a configuration once and throws what fails, so that a
    /// reload can refuse a version that would not start before anything changes.
    static func checkBuildable(_ configuration: PipelineConfiguration, logger: Logger) throws {
        let context = StageContext(pipeline: configuration.pipeline, instance: "build-check", logger: logger)
        let sinks = try configuration.sinks.compactMap { sink -> (any FrameSink)? in
            sink.configuration is WebSocketSinkConfiguration ? nil : try sink.makeSink(context: context)
        }
        _ = try PipelineRun(configuration: configuration, context: context, sinks: sinks)
    }

    /// Every loop's fan-out of this instance.
    var handles: [FanOutHandle] {
        fanOuts.withLock { $0 }
    }

    private func makeSinks(context: StageContext) throws -> [any FrameSink] {
        var sinks: [any FrameSink] = []
        var servesWebSocket = false
        for sink in configuration.sinks {
            if sink.configuration is WebSocketSinkConfiguration {
                // One fan-out serves every WebSocket path of the pipeline.
                if !servesWebSocket { sinks.append(FanOutSink(instance: self)) }
                servesWebSocket = true
            } else {
                sinks.append(try sink.makeSink(context: context))
            }
        }
        return sinks
    }

    /// Hands a frame to every loop with subscribers: into its inbox, scheduling a job
    /// on the loop only when none is pending (see `FrameInbox`).
    func publish(_ frame: EncodedFrame) {
        metrics.framesEmitted.add(1)
        nextSequence.store(frame.sequence + 1, ordering: .relaxed)
        let handles = fanOuts.withLock { $0 }
        gate.dispatched(handles.count)
        for handle in handles where handle.inbox.append(frame) {
            let deliver: @Sendable () -> Void = { [self] in _ = fanOutAfterWaitingFrames(handle) }
            if batchWindow == .zero {
                handle.eventLoop.execute(deliver)
            } else {
                handle.eventLoop.scheduleTask(in: batchWindow, deliver)
            }
        }
    }

    /// Delivers the frames waiting in `handle`'s inbox and returns its fan-out; call on
    /// its loop. Whatever is written to the subscribers next (`stream_end`,
    /// `stream_reloaded`) then follows every frame published before it, even when a
    /// batch window still holds them.
    func fanOutAfterWaitingFrames(_ handle: FanOutHandle) -> LoopFanOut {
        let fanOut = handle.fanOut.value
        gate.completed(fanOut.deliverWaiting(from: handle.inbox))
        return fanOut
    }

    /// Tells every subscriber the stream is over: `stream_end` after its queued
    /// frames, preceded by an `error` when the stream failed.
    func publishEnd(_ end: StreamEnd) {
        guard end != .cancelled else { return }
        let handles = fanOuts.withLock { $0 }
        for handle in handles {
            handle.eventLoop.execute { [self] in
                let fanOut = fanOutAfterWaitingFrames(handle)
                var writer = JSONWriter()
                fanOut.end { subscription in
                    let now = WallClock.nowMilliseconds()
                    let allocator = subscription.output.allocator
                    var messages: [ByteBuffer] = []
                    let reason: String
                    let message: String
                    switch end {
                    case .failed(let description):
                        let error = ServerMessage.error("STREAM_ERROR", description, streamID: subscription.streamID, timestamp: now)
                        messages.append(OutboundFrames.text(error.encoded(timestamp: now, writer: &writer), allocator: allocator))
                        reason = "error"
                        message = description
                    default:
                        reason = "complete"
                        message = "the stream is complete"
                    }
                    let streamEnd = ServerMessage.streamEnd(subscription, reason: reason, message: message)
                    messages.append(OutboundFrames.text(streamEnd.encoded(timestamp: now, writer: &writer), allocator: allocator))
                    return messages
                }
            }
        }
    }

    /// Withdraws a subscription from its loop's fan-out; call on that loop.
    func detach(_ subscription: Subscription, on eventLoop: EventLoop) {
        let handle = fanOuts.withLock { $0.first { $0.eventLoop === eventLoop } }
        handle?.fanOut.value.remove(subscription)
    }
}

extension ServerMessage {
    static func streamEnd(_ subscription: Subscription, reason: String, message: String) -> ServerMessage {
        ServerMessage("stream_end", streamID: subscription.streamID, payload: [
            "reason": .string(reason),
            "message": .string(message),
            // A finished run's stream_end waits behind the frames still queued, which
            // nothing can drop any more: by the time the client reads it they are sent.
            "packets_sent": .int(subscription.packetsSent + subscription.queuedCount),
            "dropped_frames": .int(subscription.droppedFrames),
        ])
    }
}

/// The run's WebSocket sink: encodes each frame once and publishes it to the
/// instance's fan-outs, holding the run back only while the loops or a `block`
/// queue have no room.
struct FanOutSink: FrameSink {
    let instance: PipelineInstance
    private var encoder = FrameEncoder()

    init(instance: PipelineInstance) {
        self.instance = instance
    }

    mutating func consume(_ frame: Frame) async throws {
        instance.publish(encoder.encode(frame))
        await instance.gate.waitUntilOpen()
    }

    mutating func finish(_ end: StreamEnd) async {
        instance.publishEnd(end)
    }
}
