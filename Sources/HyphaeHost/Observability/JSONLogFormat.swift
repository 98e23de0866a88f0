import HyphaeCore
import Logging

/// One JSON object per record: the structured audit log of PROTOCOL.md and OPERATIONS.md.
public struct JSONLogFormat: LogLineFormat {
    public init() {}

    public func line(for record: LogRecord) -> [UInt8] {
        var object = JSONObject()
        object.append("timestamp", .double(record.milliseconds))
        object.append("level", .string(record.level.rawValue))
        object.append("logger", .string(record.label))
        object.append("message", .string(record.message))
        for (key, value) in record.fields {
            object[key] = Self.json(value)
        }
        var writer = JSONWriter()
        writer.write(.object(object))
        writer.writeRaw("\n")
        return writer.bytes
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
