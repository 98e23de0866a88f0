import HyphaeCore
import NIOCore

/// Writes a frame as the line a program reads:
/// `{"type":T,"sequence":N,"timestamp":MS,"essential":true,"payload":{...}}` and a
/// line break, with `essential` only on essential frames. The payload comes last so
/// that a program that looks at the head of the line need not read a large one.
struct FrameLineEncoder {
    private var writer = JSONWriter(capacity: 1024)

    init() {}

    mutating func line(for frame: Frame, sequence: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        writer.reset()
        writer.writeRaw("{\"type\":")
        writer.write(frame.type)
        writer.writeRaw(",\"sequence\":")
        writer.write(sequence)
        writer.writeRaw(",\"timestamp\":")
        writer.write(frame.timestamp)
        if frame.isEssential { writer.writeRaw(",\"essential\":true") }
        writer.writeRaw(",\"payload\":")
        writer.write(.object(frame.payload))
        writer.writeRaw("}\n")
        var buffer = allocator.buffer(capacity: writer.bytes.count)
        buffer.writeBytes(writer.bytes)
        return buffer
    }
}

/// What one line of a program's output says: the frames it carries, and the
/// `sequence` of the input frame it answers when it names one.
struct ProgramReply: Sendable {
    var frames: [Frame]
    var sequence: Int?
}

/// Reads a program's line: a frame object, or `{"frames": [...]}` for none or several.
/// Everything in it is checked, since the program is not trusted to be right.
enum ProgramReplyParser {
    static let frameKeys = ["type", "payload", "essential", "timestamp", "sequence"]
    static let listKeys = ["frames", "sequence"]
    /// Message types are names, not documents: longer ones are a bug in the program.
    static let maxTypeBytes = 256

    /// `defaultTimestamp` is given to frames that carry none.
    static func parse(_ line: ProgramLine, defaultTimestamp: Double) throws(ProtocolViolation) -> ProgramReply {
        func violation(_ problem: String) -> ProtocolViolation {
            ProtocolViolation(lineNumber: line.number, problem: problem, line: line.bytes)
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(line.bytes.readableBytesView))
        } catch {
            throw violation("is not JSON (\(error))")
        }
        guard case .object(let object) = value else {
            throw violation("is \(value.typeDescription), not a frame object such as {\"type\": \"tick\", \"payload\": {}} or {\"frames\": [...]}")
        }
        let sequence = try readSequence(object, violation)
        guard let list = object["frames"] else {
            return ProgramReply(frames: [try frame(from: object, defaultTimestamp: defaultTimestamp, violation)], sequence: sequence)
        }
        try checkKeys(object, known: listKeys, what: "a frame list", violation)
        guard case .array(let elements) = list else {
            throw violation("has 'frames' that is \(list.typeDescription), not a list of frame objects")
        }
        var frames: [Frame] = []
        frames.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .object(let member) = element else {
                throw violation("has frames[\(index)] that is \(element.typeDescription), not a frame object")
            }
            do {
                frames.append(try frame(from: member, defaultTimestamp: defaultTimestamp, violation))
            } catch {
                throw violation("has frames[\(index)] that \(error.problem)")
            }
        }
        return ProgramReply(frames: frames, sequence: sequence)
    }

    private static func frame(
        from object: JSONObject, defaultTimestamp: Double, _ violation: (String) -> ProtocolViolation
    ) throws(ProtocolViolation) -> Frame {
        try checkKeys(object, known: frameKeys, what: "a frame", violation)
        guard let typeValue = object["type"] else {
            throw violation("has no 'type' (the frame's message type, e.g. \"tick\"), nor 'frames'")
        }
        guard case .string(let type) = typeValue, !type.isEmpty, type.utf8.count <= maxTypeBytes else {
            throw violation("has a 'type' that is not a name of 1 to \(maxTypeBytes) bytes: \(typeValue.jsonText.prefix(utf8Bytes: 40))")
        }
        var payload = JSONObject()
        if let value = object["payload"], value != .null {
            guard case .object(let members) = value else {
                throw violation("has a 'payload' that is \(value.typeDescription), not an object")
            }
            payload = members
        }
        var delivery = Frame.Delivery.droppable
        if let value = object["essential"] {
            guard case .bool(let essential) = value else {
                throw violation("has an 'essential' that is \(value.typeDescription), not true or false")
            }
            if essential { delivery = .essential }
        }
        var timestamp = defaultTimestamp
        if let value = object["timestamp"] {
            guard let number = value.numberValue, number.isFinite, number >= 0 else {
                throw violation("has a 'timestamp' that is not a number of Unix milliseconds: \(value.jsonText.prefix(utf8Bytes: 40))")
            }
            timestamp = number
        }
        return Frame(type: type, timestamp: timestamp, payload: payload, delivery: delivery)
    }

    private static func readSequence(_ object: JSONObject, _ violation: (String) -> ProtocolViolation) throws(ProtocolViolation) -> Int? {
        guard let value = object["sequence"], value != .null else { return nil }
        switch value {
        case .int(let number) where number >= 0:
            return number
        case .double(let number) where number >= 0 && number < 9e15 && number == number.rounded():
            return Int(number)
        default:
            throw violation("has a 'sequence' that is not a whole number of at least 0: \(value.jsonText.prefix(utf8Bytes: 40))")
        }
    }

    private static func checkKeys(
        _ object: JSONObject, known: [String], what: String, _ violation: (String) -> ProtocolViolation
    ) throws(ProtocolViolation) {
        for key in object.keys where !known.contains(key) {
            let hint = Suggestions.didYouMean(key, in: known)
            throw violation("has the key '\(key.prefix(utf8Bytes: 40))', which \(what) does not take\(hint) (known: \(known.joined(separator: ", ")))")
        }
    }
}
