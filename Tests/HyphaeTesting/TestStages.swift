import HyphaeCore
import Synchronization

/// Stage types for testing core without any plugin: a source that counts, a
/// transform with a field of every type, a transform that holds frames back, and
/// sinks with and without an endpoint.
public enum TestStagesPlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(CounterSource.self)
        registry.register(ShapeTransform.self)
        registry.register(HoldTransform.self)
        registry.register(DiscardSink.self)
        registry.register(EndpointSink.self)
    }

    public static func registry() -> StageRegistry {
        StageRegistry(plugins: [TestStagesPlugin.self])
    }
}

/// Emits frames whose payload is `{"count": n}` from 1; the last of a finite run is essential.
public struct CounterSource: SourceStage {
    public struct Configuration: StageConfiguration {
        public var count: Int
        public var endless: Bool
        public var failAfter: Int?

        public init(reading config: inout ConfigReader) {
            count = config.int("count", default: 3, min: 0, max: 1_000_000, summary: "how many frames to emit")
            endless = config.bool("endless", default: false, summary: "emit until cancelled, ignoring count")
            failAfter = config.optionalInt("fail_after", min: 0, summary: "throw after emitting this many frames")
        }
    }

    public static let stageType = "counter"
    public static let summary = "counts frames for tests"
    public static let failureMessage = "the counter broke on purpose"

    public static func isFinite(_ configuration: Configuration) -> Bool { !configuration.endless }

    private let configuration: Configuration
    private var emitted = 0

    public init(configuration: Configuration, context: StageContext) {
        self.configuration = configuration
    }

    public mutating func next() async throws -> Frame? {
        if let failAfter = configuration.failAfter, emitted >= failAfter {
            throw StageError(Self.failureMessage)
        }
        if configuration.endless {
            await Task.yield()
        } else if emitted >= configuration.count {
            return nil
        }
        emitted += 1
        let isLast = !configuration.endless && emitted == configuration.count
        return Frame(type: "count", timestamp: 1000, payload: ["count": .int(emitted)], delivery: isLast ? .essential : .droppable)
    }
}

/// Reads one field of every kind a configuration can have, and labels frames with them.
public struct ShapeTransform: TransformStage {
    public enum Mode: String, CaseIterable, Sendable {
        case keep
        case mark
    }

    public struct Configuration: StageConfiguration {
        public var factor: Double
        public var ratio: Double
        public var copies: Int
        public var enabled: Bool
        public var label: String
        public var mode: Mode
        public var tags: [String]

        public init(reading config: inout ConfigReader) {
            factor = config.double("factor", default: 1, min: 0, max: 100, summary: "a number with inclusive bounds")
            ratio = config.double("ratio", default: 0.5, min: 0, below: 1, summary: "a number with an exclusive upper bound")
            copies = config.int("copies", default: 1, min: 1, max: 10, summary: "how many copies of each frame to emit")
            enabled = config.bool("enabled", default: true, summary: "whether frames are labelled")
            label = config.string("label", default: nil, summary: "the label written into each frame")
            mode = config.choice("mode", default: .keep, summary: "a choice")
            tags = config.stringList("tags", default: [], allowed: ["red", "green", "blue"], summary: "a list of strings")
        }
    }

    public static let stageType = "shape"
    public static let summary = "labels frames and copies them"

    private let configuration: Configuration

    public init(configuration: Configuration, context: StageContext) {
        self.configuration = configuration
    }

    public mutating func process(_ frame: Frame, into output: inout [Frame]) {
        guard configuration.enabled else {
            output.append(frame)
            return
        }
        var labelled = frame
        labelled.payload["label"] = .string(configuration.label)
        for _ in 0..<configuration.copies { output.append(labelled) }
    }
}

/// Holds every frame back until the source finishes, then emits them all.
public struct HoldTransform: TransformStage {
    public struct Configuration: StageConfiguration {
        public init(reading config: inout ConfigReader) {}
    }

    public static let stageType = "hold"
    public static let summary = "holds frames until the end"

    private var held: [Frame] = []

    public init(configuration: Configuration, context: StageContext) {}

    public mutating func process(_ frame: Frame, into output: inout [Frame]) {
        held.append(frame)
    }

    public mutating func finish(into output: inout [Frame]) {
        output += held
        held.removeAll()
    }
}

/// Takes frames and does nothing with them.
public struct DiscardSink: SinkStage {
    public struct Configuration: StageConfiguration {
        public init(reading config: inout ConfigReader) {}
    }

    public static let stageType = "discard"
    public static let summary = "drops every frame"

    public init(configuration: Configuration, context: StageContext) {}

    public mutating func consume(_ frame: Frame) async throws {}
}

/// A sink served at a URL path, like the host's WebSocket sink.
public struct EndpointSink: SinkStage {
    public enum Policy: String, CaseIterable, Sendable {
        case drop
        case block
    }

    public struct Configuration: EndpointConfiguration {
        public var path: String
        public var backpressure: Policy

        public var endpointPath: String { path }
        public var requiresOwnInstance: Bool { backpressure == .block }

        public init(reading config: inout ConfigReader) {
            path = config.string("path", default: nil, summary: "the path subscribers connect to")
            backpressure = config.choice("backpressure", default: .drop, summary: "what a full queue does")
        }
    }

    public static let stageType = "endpoint"
    public static let summary = "serves frames at a path"

    public init(configuration: Configuration, context: StageContext) {}

    public mutating func consume(_ frame: Frame) async throws {}
}

/// What a `RecordingSink` saw, readable from the test while the run goes on.
public final class FrameRecorder: Sendable {
    private struct State {
        var frames: [Frame] = []
        var ends: [StreamEnd] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var frames: [Frame] { state.withLock { $0.frames } }
    public var ends: [StreamEnd] { state.withLock { $0.ends } }

    func record(_ frame: Frame) {
        state.withLock { $0.frames.append(frame) }
    }

    func record(_ end: StreamEnd) {
        state.withLock { $0.ends.append(end) }
    }
}

/// A sink that hands every frame and the stream's end to a recorder, and can stop
/// the run after a number of frames.
public struct RecordingSink: SinkStage {
    public struct Configuration: StageConfiguration {
        public init(reading config: inout ConfigReader) {}
    }

    public static let stageType = "recording"
    public static let summary = "records frames for a test"

    private let recorder: FrameRecorder
    private let stopAfter: Int?
    private var consumed = 0

    public init(configuration: Configuration, context: StageContext) {
        self.init(recorder: FrameRecorder())
    }

    public init(recorder: FrameRecorder, stopAfter: Int? = nil) {
        self.recorder = recorder
        self.stopAfter = stopAfter
    }

    public mutating func consume(_ frame: Frame) async throws {
        recorder.record(frame)
        consumed += 1
        if let stopAfter, consumed >= stopAfter { throw PipelineRun.StopRequested() }
    }

    public mutating func finish(_ end: StreamEnd) async {
        recorder.record(end)
    }
}
