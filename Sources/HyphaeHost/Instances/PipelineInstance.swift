import HyphaeCore
import HyphaeProtocol
import Logging
import NIOCore
import Synchronization

/// One running copy of a pipeline: its run's task and the fan-out its `websocket`
/// sink feeds. The run's stages are built with the fan-out in their context's
/// resources, so the sink needs nothing else of the host.
final class PipelineInstance: Sendable {
    let id: String
    let pipeline: String
    let configuration: PipelineConfiguration
    let fanOut: FanOut
    /// Where a relaying source offers to replay its frames (PROTOCOL.md, Resume): lent
    /// to a shared instance whose frames reach the sink unchanged, so that a replayed
    /// frame is the frame subscribers were sent. Nil otherwise.
    let replaySlot: ReplaySlot?
    /// Tells the subscribers that asked when the source stalls and flows again.
    private let sourceFlow: SourceFlow
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let logger: Logger
    /// Where the run's stages report the services they depend on (`/ready`, `/metrics`).
    private let dependencies: DependencyBoard?
    private let onEnd: @Sendable (PipelineInstance) -> Void

    /// `keepsHistory` for a shared instance, which a reconnecting subscriber can find again.
    init(
        id: String, configuration: PipelineConfiguration, metrics: PipelineMetrics, dependencies: DependencyBoard? = nil,
        logger: Logger, keepsHistory: Bool = false, onEnd: @escaping @Sendable (PipelineInstance) -> Void
    ) {
        self.id = id
        pipeline = configuration.pipeline
        self.configuration = configuration
        self.logger = logger
        self.dependencies = dependencies
        self.onEnd = onEnd
        // The pipeline's WebSocket sinks share one fan-out; the shortest window wins.
        let sinks = configuration.sinkConfigurations(of: WebSocketSinkConfiguration.self)
        let windows = sinks.map(\.batchWindowMilliseconds)
        // ... and the largest history, which serves every path alike.
        let history = keepsHistory && !sinks.isEmpty
            ? FrameHistory.Limits(
                frames: sinks.map(\.historyFrames).max() ?? 0, seconds: sinks.map(\.historySeconds).max() ?? 0,
                bytes: sinks.map(\.historyMaxBytes).max() ?? 0)
            : .none
        let fanOut = FanOut(metrics: metrics, batchWindow: .milliseconds(Int64(windows.min() ?? 0)), history: history)
        self.fanOut = fanOut
        replaySlot = history.keepsFrames && configuration.transforms.isEmpty && configuration.sourceOffersReplay ? ReplaySlot() : nil
        sourceFlow = SourceFlow { state in
            let notice = StreamNotice.status(state, sequence: fanOut.history.latestSequence)
            fanOut.forEachSubscriptionAfterWaitingFrames { $0.notify(notice) }
        }
    }

    /// Whether the source says it stalled, for a subscriber that joins meanwhile.
    var sourceState: SourceFlow.State { sourceFlow.state }

    /// Carries on a predecessor's stream (a reload): its epoch and recent frames, and
    /// whether its source was stalled, so that a subscriber told `stalled` hears
    /// `flowing` when this source reads, and nothing while it stalls too.
    func continueStream(of predecessor: PipelineInstance) {
        fanOut.history.continueStream(of: predecessor.fanOut.history)
        sourceFlow.continueFlow(of: predecessor.sourceFlow)
    }

    var version: String { configuration.version }
    var metrics: PipelineMetrics { fanOut.metrics }

    /// Starts the run unless it is running; the first subscriber is attached by then,
    /// so a finite run's first frame reaches it. `sequence` numbers its first frame;
    /// `continuing` is the predecessor's last frame, on a reload.
    func startIfNeeded(sequence: Int = 0, continuing: StreamPosition? = nil) {
        task.withLock { task in
            guard task == nil else { return }
            metrics.instances.add(1)
            fanOut.continueSequence(at: sequence)
            task = Task { [self] in
                let end: StreamEnd
                do {
                    var run = try PipelineRun(configuration: configuration, context: stageContext(instance: id, continuing: continuing))
                    run.sequence = sequence
                    end = await run.run()
                } catch {
                    end = .failed("the pipeline could not start: \(error)")
                    fanOut.forEachSubscriptionAfterWaitingFrames { $0.notify(StreamNotice(end)) }
                }
                metrics.instances.subtract(1)
                fanOut.retire()
                logger.info("instance ended", metadata: ["event": "instance_ended", "instance": "\(id)", "end": "\(end)"])
                onEnd(self)
            }
            logger.info("instance started", metadata: ["event": "instance_started", "pipeline": "\(pipeline)", "instance": "\(id)"])
        }
    }

    /// Cancels the run; its subscribers have left, or are told by whoever stops it.
    func stop() {
        fanOut.close()
        task.withLock { $0?.cancel() }
    }

    /// Stops the run and waits for its task to end; returns the sequence number its
    /// next frame would have had.
    func stopAndWait() async -> Int {
        stop()
        let running = task.withLock { $0 }
        await running?.value
        return fanOut.sequenceAfterLastFrame
    }

    /// Makes every stage of a configuration once and throws what fails, so that a
    /// reload can refuse a version that would not start before anything changes.
    static func checkBuildable(_ configuration: PipelineConfiguration, logger: Logger) throws {
        let probe = PipelineInstance(id: "build-check", configuration: configuration, metrics: PipelineMetrics(), logger: logger) { _ in }
        _ = try PipelineRun(configuration: configuration, context: probe.stageContext(instance: probe.id))
    }

    private func stageContext(instance: String, continuing: StreamPosition? = nil) -> StageContext {
        var resources = StageResources()
        resources[FanOut.self] = fanOut
        resources[DependencyBoard.self] = dependencies
        resources[ReplaySlot.self] = replaySlot
        resources[SourceFlow.self] = sourceFlow
        return StageContext(pipeline: pipeline, instance: instance, logger: logger, resources: resources, continuing: continuing)
    }
}
