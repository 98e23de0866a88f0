import Foundation
import Logging

/// Where a log handler writes its lines: standard error for the host, a buffer in tests.
public struct LogOutput: Sendable {
    /// Takes one complete line, newline included, per call: one write, so that lines
    /// logged from several threads do not interleave.
    let writeLine: @Sendable ([UInt8]) -> Void

    public init(writeLine: @escaping @Sendable ([UInt8]) -> Void) {
        self.writeLine = writeLine
    }

    public static let standardError = LogOutput { line in
        FileHandle.standardError.write(Data(line))
    }
}

extension LogHandler {
    /// A record's fields: the handler's metadata overlaid with the record's own,
    /// sorted by key so that two lines of the same event read alike.
    func fields(of event: LogEvent) -> [(key: String, value: Logger.MetadataValue)] {
        var merged = metadata
        if let own = event.metadata {
            merged.merge(own) { _, recordValue in recordValue }
        }
        return merged.sorted { $0.key < $1.key }
    }
}
