import HyphaeCore
import Logging

/// Writes each frame into the host's log as a JSON line, at a chosen level.
public struct LogSink: SinkStage {
    public struct Configuration: StageConfiguration {
        public enum Level: String, CaseIterable, Sendable {
            case trace, debug, info, notice, warning
        }

        public var level: Level

        public init(reading config: inout ConfigReader) {
            level = config.choice("level", default: .info, summary: "the log level of the frame lines")
        }
    }

    public static let stageType = "log"
    public static let summary = "writes each frame into the host's log as JSON"

    private var encoder = FrameEncoder()
    private let logger: Logger
    private let level: Logger.Level

    public init(configuration: Configuration, context: StageContext) {
        logger = context.logger
        level = Logger.Level(rawValue: configuration.level.rawValue) ?? .info
    }

    public mutating func consume(_ frame: Frame) async throws {
        let line = String(decoding: encoder.encode(frame, streamID: nil), as: UTF8.self)
        logger.log(level: level, "\(line)", metadata: ["event": "frame", "sequence": "\(frame.sequence)"])
    }
}

public enum ConsolePlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(StandardOutputSink.self)
        registry.register(LogSink.self)
    }
}
