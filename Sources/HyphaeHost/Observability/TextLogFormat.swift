import Foundation
import HyphaeCore
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One line per record for a person at a terminal:
///
///     2026-11-27T21:10:00.123Z info     connection opened event=connection_opened path=/ws remote="a b"
///
/// Time (UTC), level, message, then the fields as `key=value`, sorted by key. Much of
/// what is logged comes from clients (stream ids, reasons), so the message and the
/// values are escaped: one record is always exactly one line.
public struct TextLogFormat: LogLineFormat {
    public init() {}

    public func line(for record: LogRecord) -> [UInt8] {
        var line = Self.time(milliseconds: record.milliseconds)
        line += " " + record.level.rawValue.padding(toLength: Self.levelWidth, withPad: " ", startingAt: 0)
        line += " " + TextLogEscaping.escaped(record.message)
        for (key, value) in record.fields {
            line += " " + TextLogEscaping.escaped(key) + "=" + TextLogEscaping.value(Self.text(value))
        }
        line += "\n"
        return Array(line.utf8)
    }

    /// The longest level name, "critical": messages start in one column.
    private static let levelWidth = Logger.Level.allCases.map(\.rawValue.count).max() ?? 0

    /// `2026-11-27T21:10:00.123Z`, computed in whole milliseconds: dividing by 1000 first
    /// would turn some times into ….12299… and print 122.
    private static func time(milliseconds: Double) -> String {
        let total = Int64(milliseconds.rounded(.down))
        var seconds = time_t(total / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, Int32(total % 1000))
    }

    private static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(text).joined(separator: ", ") + "]"
        case .dictionary(let entries): "[" + entries.sorted { $0.key < $1.key }.map { "\($0.key): \(text($0.value))" }.joined(separator: ", ") + "]"
        }
    }
}

/// How the text log format keeps one record on one line and its fields apart.
enum TextLogEscaping {
    /// A metadata value as it follows `key=`: bare when it is one plain word, else in
    /// double quotes, so that `key=value key=value` always splits back into its fields.
    static func value(_ text: String) -> String {
        guard text.isEmpty || text.unicodeScalars.contains(where: needsQuotes) else { return text }
        return "\"" + escaped(text, insideQuotes: true) + "\""
    }

    /// Text with every character that could break or disguise the line written as an
    /// escape: `\n`, `\r`, `\t`, `\\`, and `\u{…}` for the other control, format and
    /// separator characters (including the direction overrides that reorder a line's display).
    static func escaped(_ text: String, insideQuotes: Bool = false) -> String {
        var result = ""
        result.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\"" where insideQuotes: result += "\\\""
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isUnprintable(scalar): result += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func needsQuotes(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\"" || scalar == "\\" || scalar.properties.isWhitespace || isUnprintable(scalar)
    }

    private static func isUnprintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
