/// Writes JSON as UTF-8 bytes into a growing buffer. Reusing one writer (and so one
/// buffer) across frames keeps encoding free of allocation once the buffer has grown.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
    }

    public mutating func writeRaw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func writeRaw(_ raw: some Sequence<UInt8>) {
        bytes.append(contentsOf: raw)
    }

    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: writeRaw("null")
        case .bool(let flag): writeRaw(flag ? "true" : "false")
        case .int(let integer): write(integer)
        case .double(let number): write(number)
        case .string(let text): write(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .numbers(let numbers):
            bytes.append(UInt8(ascii: "["))
            for (index, number) in numbers.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                write(number)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            writeMembers(of: object, leadingComma: false)
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// Writes `"key":value` pairs without braces, so callers can splice members
    /// of their own before or after them.
    public mutating func writeMembers(of object: JSONObject, leadingComma: Bool) {
        var needsComma = leadingComma
        for member in object.members {
            if needsComma { bytes.append(UInt8(ascii: ",")) }
            needsComma = true
            write(member.key)
            bytes.append(UInt8(ascii: ":"))
            write(member.value)
        }
    }

    public mutating func write(_ integer: Int) {
        if integer == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = integer.magnitude
        if integer < 0 { bytes.append(UInt8(ascii: "-")) }
        let start = bytes.count
        while magnitude > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        }
        bytes[start...].reverse()
    }

    /// Finite numbers in their shortest round-trip form; NaN and infinities, which
    /// JSON cannot carry, as `null`.
    public mutating func write(_ number: Double) {
        guard number.isFinite else {
            writeRaw("null")
            return
        }
        if number == number.rounded(.towardZero), abs(number) < 1e15 {
            // Whole numbers stay recognisably floating point ("4096.0"), as Python's json writes them.
            write(Int(number))
            writeRaw(".0")
            return
        }
        bytes.append(contentsOf: number.description.utf8)
    }

    public mutating func write(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): writeRaw("\\\"")
            case UInt8(ascii: "\\"): writeRaw("\\\\")
            case UInt8(ascii: "\n"): writeRaw("\\n")
            case UInt8(ascii: "\r"): writeRaw("\\r")
            case UInt8(ascii: "\t"): writeRaw("\\t")
            case 0..<0x20:
                writeRaw("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

extension JSONValue {
    /// The compact JSON text of this value.
    public var jsonText: String {
        var writer = JSONWriter()
        writer.write(self)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
