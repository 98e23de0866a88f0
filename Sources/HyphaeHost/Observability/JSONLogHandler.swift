import Foundation
import HyphaeCore
import Logging

/// Writes each log record as one JSON object per line on standard error: the
/// structured audit log of PROTOCOL.md.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let output: LogOutput

    public init(label: String, output: LogOutput = .standardError) {
        self.label = label
        self.output = output
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
        for (key, value) in fields(of: event) {
            object[key] = Self.json(value)
        }
        var writer = JSONWriter()
        writer.write(.object(object))
        writer.writeRaw("\n")
        output.writeLine(writer.bytes)
    }

    /// A string stays a string whatever it looks like: a stream id "123" must not
    /// turn into a number and change the field's type in a log store. Numbers and
    /// booleans logged as themselves (`.stringConvertible(count)`) are written as such.
    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let flag as Bool:
                return .bool(flag)
            case let number as any BinaryInteger:
                return Int(exactly: number).map(JSONValue.int) ?? .string(convertible.description)
            case let number as any BinaryFloatingPoint:
                let double = Double(number)
                return double.isFinite ? .double(double) : .string(convertible.description)
            default:
                return .string(convertible.description)
            }
        case .array(let values):
            return .array(values.map(json))
        case .dictionary(let entries):
            return .object(JSONObject(entries.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
        }
    }
}
