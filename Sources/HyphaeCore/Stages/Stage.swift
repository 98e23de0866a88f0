import Logging

/// A stage's settings, read from its YAML mapping. Reading records problems in the
/// reader instead of throwing, so one pass reports every mistake in a file.
public protocol StageConfiguration: Sendable {
    init(reading config: inout ConfigReader)
}

/// What a running stage knows about where it runs.
public struct StageContext: Sendable {
    public var pipeline: String
    /// Tells this run apart from the pipeline's other running instances.
    public var instance: String
    public var logger: Logger
    /// What the program running the pipeline lends its stages, such as the host's
    /// WebSocket fan-out.
    public var resources: StageResources
    /// On a reload, the last frame the run this one takes over from handed on: a
    /// source that reads a stream numbered elsewhere (a relay) reads on after it, or
    /// counts what it cannot (a jump in `sequence`). Nil for a fresh run.
    public var continuing: StreamPosition?

    public init(
        pipeline: String, instance: String, logger: Logger, resources: StageResources = StageResources(), continuing: StreamPosition? = nil
    ) {
        self.pipeline = pipeline
        self.instance = instance
        self.logger = logger
        self.resources = resources
        self.continuing = continuing
    }
}

/// What a pipeline run pulls its frames from: a source stage, or frames a pipeline
/// test feeds in.
///
/// A source is pulled: the run asks for the next frame when the stages after it
/// have taken the last one, so a source that paces itself (sleeps until its next
/// tick) needs no buffer of its own.
public protocol FrameSource {
    /// The next frame, or nil when the stream is complete. Throwing ends the stream
    /// with `STREAM_ERROR`; the error's description is what subscribers read.
    mutating func next() async throws -> Frame?
}

/// A source stage type that pipeline files name: produces a pipeline's frames until
/// it finishes or its task is cancelled.
public protocol SourceStage: FrameSource, SendableMetatype {
    associatedtype Configuration: StageConfiguration
    /// The name pipeline files use in `type:`.
    static var stageType: String { get }
    /// One line for `hyphae stages`.
    static var summary: String { get }
    /// Whether a run with these settings ends by itself. Finite pipelines run once
    /// per subscriber by default, so that no one joins a run midway.
    static func isFinite(_ configuration: Configuration) -> Bool

    init(configuration: Configuration, context: StageContext) throws
}

extension SourceStage {
    public static func isFinite(_ configuration: Configuration) -> Bool { false }
}

/// Maps each frame to zero or more frames.
public protocol TransformStage: SendableMetatype {
    associatedtype Configuration: StageConfiguration
    static var stageType: String { get }
    static var summary: String { get }

    init(configuration: Configuration, context: StageContext) throws

    /// Appends what `frame` becomes to `output`. Asynchronous so that a transform
    /// can wait for something outside the task (a program it runs) without holding a
    /// thread; a transform that computes in place implements it synchronously.
    mutating func process(_ frame: Frame, into output: inout [Frame]) async throws
    /// Appends any frames still held back once the source has finished.
    mutating func finish(into output: inout [Frame]) async throws
}

extension TransformStage {
    public mutating func finish(into output: inout [Frame]) async throws {}
}

/// How a stream ended, as its sinks are told.
public enum StreamEnd: Sendable, Equatable {
    /// The source finished by itself.
    case complete
    /// A stage failed; the message is for subscribers.
    case failed(String)
    /// The run was stopped from outside: its last subscriber left, a reload, a shutdown.
    case cancelled
}

/// Consumes a pipeline's frames: what a run hands its numbered frames to.
public protocol FrameSink {
    /// Takes one frame. Awaiting here holds the source back; only a sink whose
    /// policy says so (`block`) should.
    mutating func consume(_ frame: Frame) async throws
    mutating func finish(_ end: StreamEnd) async
}

extension FrameSink {
    public mutating func finish(_ end: StreamEnd) async {}
}

/// A sink stage type that pipeline files name, made from its configuration.
public protocol SinkStage: FrameSink, SendableMetatype {
    associatedtype Configuration: StageConfiguration
    static var stageType: String { get }
    static var summary: String { get }

    init(configuration: Configuration, context: StageContext) throws
}

/// A sink configuration that serves subscribers at a URL path; no two pipelines may share one.
public protocol EndpointConfiguration: StageConfiguration {
    var endpointPath: String { get }
    /// Whether the sink may hold its source back (backpressure `block`), which is
    /// only allowed where each instance serves one subscriber.
    var requiresOwnInstance: Bool { get }
}

extension EndpointConfiguration {
    public var requiresOwnInstance: Bool { false }
}

/// A stage module: a set of stage types it adds to a registry.
public protocol StagePlugin: SendableMetatype {
    static func register(in registry: inout StageRegistry)
}
