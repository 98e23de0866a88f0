import HyphaeCore
import Logging
import Synchronization

/// Stage types for the hot-reload tests: a paced counter that can be told, in its
/// pipeline file, to refuse to start. It passes validation either way, so it
/// exercises a build failure after validation.
public enum ReloadTestStagesPlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(StartupCheckSource.self)
    }
}

/// Emits `{"count": n}` at a steady rate; its initializer throws when
/// `refuse_to_start` is set.
public struct StartupCheckSource: SourceStage {
    public struct Configuration: StageConfiguration {
        public var rate: Double
        public var refuseToStart: Bool

        public init(reading config: inout ConfigReader) {
            rate = config.double("rate", default: 20, min: 0.1, max: 1000, summary: "frames per second")
            refuseToStart = config.bool("refuse_to_start", default: false, summary: "throw when the stage is made, as a source whose device is missing would")
        }
    }

    public static let stageType = "startup_check"
    public static let summary = "a paced counter that can refuse to start, for reload tests"
    public static let refusalMessage = "the startup_check source refuses to start (refuse_to_start is set)"

    private let interval: Duration
    private var emitted = 0

    public init(configuration: Configuration, context: StageContext) throws {
        if configuration.refuseToStart { throw StageError(Self.refusalMessage) }
        interval = .nanoseconds(Int64((1e9 / configuration.rate).rounded()))
    }

    public mutating func next() async throws -> Frame? {
        try await Task.sleep(for: interval)
        emitted += 1
        return Frame(type: "count", payload: ["count": .int(emitted)])
    }
}

/// One log record, flattened for assertions.
public struct RecordedLogEntry: Sendable {
    public var level: Logger.Level
    public var message: String
    public var metadata: [String: String]

    public var event: String? { metadata["event"] }
}

/// Keeps every record logged through its loggers, so that a test can check the
/// events a host wrote (say, a failed reload) without reading standard error.
public final class LogRecorder: Sendable {
    private let entries = Mutex<[RecordedLogEntry]>([])

    public init() {}

    public var recorded: [RecordedLogEntry] { entries.withLock { $0 } }

    public func entries(withEvent event: String) -> [RecordedLogEntry] {
        recorded.filter { $0.event == event }
    }

    /// A logger whose records go to this recorder only, at `level` and above.
    public func logger(label: String = "hyphae.test", level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in RecordingLogHandler(recorder: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func record(_ entry: RecordedLogEntry) {
        entries.withLock { $0.append(entry) }
    }
}

private struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        recorder.record(RecordedLogEntry(
            level: event.level, message: event.message.description,
            metadata: merged.mapValues { "\($0)" }
        ))
    }
}
