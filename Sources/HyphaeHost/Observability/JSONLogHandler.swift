import Foundation
import HyphaeCore
import Logging

/// Writes each log record as one JSON object per line on standard error: the
/// structured audit log of PROTOCOL.md.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object = JSONObject()
        object.append("timestamp", .double(WallClock.nowMilliseconds()))
        object.append("level", .string(event.level.rawValue))
        object.append("logger", .string(label))
        object.append("message", .string(event.message.description))
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            object[key] = Self.json(value)
        }
        var writer = JSONWriter()
        writer.write(.object(object))
        writer.writeRaw("\n")
        FileHandle.standardError.write(Data(writer.bytes))
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text):
            if let number = Int(text) { return .int(number) }
            if let number = Double(text), text.contains(".") { return .double(number) }
            return .string(text)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let entries): return .object(JSONObject(entries.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
        }
    }
}
