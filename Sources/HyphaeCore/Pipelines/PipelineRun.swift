/// One running instance of a pipeline: pulls frames from the source, passes each
/// through the transforms in order, numbers what comes out, and hands it to the sinks.
///
/// A run lives inside one task and is not shared, so its stages need no locks.
public struct PipelineRun {
    /// Thrown by a sink to end the run early and cleanly (`hyphae tap --frames N`).
    public struct StopRequested: Error, Sendable {
        public init() {}
    }

    private var source: any FrameSource
    private var transforms: [any TransformStage]
    private var sinks: [any FrameSink]
    private var nextSequence = 0
    /// One reusable output buffer per transform, so passing a frame through allocates nothing.
    private var outputs: [[Frame]]

    /// Makes every stage. The source can be replaced (a pipeline test feeds frames of
    /// its own to the transforms), and so can the sinks (tap prints instead of serving).
    public init(
        configuration: PipelineConfiguration, context: StageContext,
        source sourceReplacement: (any FrameSource)? = nil, sinks replacement: [any FrameSink]? = nil
    ) throws {
        source = try sourceReplacement ?? configuration.source.makeSource(context: context)
        transforms = try configuration.transforms.map { try $0.makeTransform(context: context) }
        sinks = try replacement ?? configuration.sinks.map { try $0.makeSink(context: context) }
        outputs = Array(repeating: [], count: transforms.count)
        for index in outputs.indices { outputs[index].reserveCapacity(4) }
    }

    /// The sequence number the next frame will get; a reload carries it over so
    /// that subscribers see no jump.
    public var sequence: Int {
        get { nextSequence }
        set { nextSequence = newValue }
    }

    /// Runs until the source finishes, a stage fails, or the task is cancelled, and
    /// tells the sinks which.
    public mutating func run() async -> StreamEnd {
        let end: StreamEnd
        do {
            while !Task.isCancelled, let frame = try await source.next() {
                try await push(frame, from: 0)
            }
            if Task.isCancelled {
                end = .cancelled
            } else {
                try await flushTransforms()
                end = .complete
            }
        } catch is CancellationError {
            end = .cancelled
        } catch is StopRequested {
            end = .cancelled
        } catch {
            end = .failed(String(describing: error))
        }
        for index in sinks.indices {
            await sinks[index].finish(end)
        }
        return end
    }

    private mutating func push(_ frame: Frame, from stage: Int) async throws {
        guard stage < transforms.count else {
            try await deliver(frame)
            return
        }
        var produced = outputs[stage]
        outputs[stage] = []
        produced.removeAll(keepingCapacity: true)
        try await transforms[stage].process(frame, into: &produced)
        for output in produced {
            try await push(output, from: stage + 1)
        }
        produced.removeAll(keepingCapacity: true)
        outputs[stage] = produced
    }

    /// Lets each transform emit what it held back, in order, so that a finite
    /// stream's last frames reach the sinks.
    private mutating func flushTransforms() async throws {
        for stage in transforms.indices {
            var held: [Frame] = []
            try await transforms[stage].finish(into: &held)
            for frame in held {
                try await push(frame, from: stage + 1)
            }
        }
    }

    private mutating func deliver(_ frame: Frame) async throws {
        var numbered = frame
        // A relayed frame keeps its producer's number, so that every host relaying the
        // stream serves the same sequence and a client's gap detection holds end to end.
        if frame.epoch == nil { numbered.sequence = nextSequence }
        nextSequence = numbered.sequence &+ 1
        for index in sinks.indices {
            try await sinks[index].consume(numbered)
        }
    }
}
