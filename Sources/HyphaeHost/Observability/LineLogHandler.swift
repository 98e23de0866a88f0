import Foundation
import HyphaeCore
import Logging

/// The host's log handler: writes each record as one line, in a format (JSON for log
/// stores, text for people), to an output (standard error, or a buffer in tests).
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: any LogLineFormat
    private let output: LogOutput
    private let clock: @Sendable () -> Double

    /// `clock` gives the time in milliseconds since 1970; tests fix it.
    public init(
        label: String, format: any LogLineFormat, output: LogOutput = .standardError,
        clock: @escaping @Sendable () -> Double = WallClock.nowMilliseconds
    ) {
        self.label = label
        self.format = format
        self.output = output
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let own = event.metadata {
            fields.merge(own) { _, recordValue in recordValue }
        }
        let record = LogRecord(
            milliseconds: clock(), level: event.level, label: label, message: event.message.description,
            fields: fields.sorted { $0.key < $1.key })
        output.writeLine(format.line(for: record))
    }
}

/// One record as a format sees it.
public struct LogRecord: Sendable {
    /// Milliseconds since 1970.
    public var milliseconds: Double
    public var level: Logger.Level
    /// The logger's label.
    public var label: String
    public var message: String
    /// The handler's metadata overlaid with the record's own, sorted by key, so that
    /// two lines of the same event read alike.
    public var fields: [(key: String, value: Logger.MetadataValue)]

    public init(milliseconds: Double, level: Logger.Level, label: String, message: String, fields: [(key: String, value: Logger.MetadataValue)]) {
        self.milliseconds = milliseconds
        self.level = level
        self.label = label
        self.message = message
        self.fields = fields
    }
}

/// How a record becomes a line.
public protocol LogLineFormat: Sendable {
    /// The line's bytes, ending with a newline.
    func line(for record: LogRecord) -> [UInt8]
}

/// Where the handler writes its lines.
public struct LogOutput: Sendable {
    /// Takes one complete line per call, newline included: one write, so that lines
    /// logged from several threads do not interleave.
    let writeLine: @Sendable ([UInt8]) -> Void

    public init(writeLine: @escaping @Sendable ([UInt8]) -> Void) {
        self.writeLine = writeLine
    }

    public static let standardError = LogOutput { line in
        FileHandle.standardError.write(Data(line))
    }
}
