import HyphaeCore
import HyphaeProtocol
import NIOCore
import XCTest

/// One WebSocket frame as the host wrote it at the head of a channel, read back the
/// way a client reads it: a text frame's JSON object, or a control frame's content.
enum ServerFrame: Equatable, CustomStringConvertible {
    case message(JSONObject)
    case close(code: UInt16, reason: String)
    case pong([UInt8])

    var description: String {
        switch self {
        case .message(let object): JSONValue.object(object).jsonText
        case .close(let code, let reason): "close \(code) '\(reason)'"
        case .pong(let data): "pong \(data)"
        }
    }

    /// The message a text frame carries; nil for a control frame.
    var message: JSONObject? {
        if case .message(let object) = self { return object }
        return nil
    }

    /// Whether this is a pipeline's data frame rather than one of the protocol's own messages.
    var isDataFrame: Bool { message?.sequence != nil }
}

struct ServerFrameError: Error, CustomStringConvertible {
    var description: String
}

extension ServerFrame {
    /// Reads `buffer`, which must hold exactly one final, unmasked frame (RFC 6455,
    /// section 5.2): the host writes each frame as one buffer, and a server never masks.
    init(decoding buffer: ByteBuffer) throws {
        var bytes = buffer
        guard let first = bytes.readInteger(as: UInt8.self), let second = bytes.readInteger(as: UInt8.self) else {
            throw ServerFrameError(description: "a buffer of \(buffer.readableBytes) bytes is too short for a frame header")
        }
        guard first & 0xF0 == 0x80 else {
            throw ServerFrameError(description: "the first byte \(first) is not a final frame without extension bits")
        }
        guard second & 0x80 == 0 else { throw ServerFrameError(description: "a server frame is masked") }
        let length: Int
        switch second & 0x7F {
        case 126: length = Int(try Self.read(UInt16.self, from: &bytes))
        case 127: length = Int(try Self.read(UInt64.self, from: &bytes))
        case let short: length = Int(short)
        }
        guard bytes.readableBytes == length else {
            throw ServerFrameError(description: "the header announces \(length) payload bytes; the buffer holds \(bytes.readableBytes)")
        }
        let payload = Array(bytes.readableBytesView)
        switch WebSocketFrameHeader.Opcode(rawValue: first & 0x0F) {
        case .text:
            guard let object = try JSONParser.parse(payload).objectValue else {
                throw ServerFrameError(description: "a text frame holds JSON that is not an object: \(String(decoding: payload, as: UTF8.self))")
            }
            self = .message(object)
        case .close:
            guard payload.count >= 2 else { throw ServerFrameError(description: "a close frame without a code") }
            self = .close(code: UInt16(payload[0]) << 8 | UInt16(payload[1]), reason: String(decoding: payload.dropFirst(2), as: UTF8.self))
        case .pong:
            self = .pong(payload)
        default:
            throw ServerFrameError(description: "a frame with opcode \(first & 0x0F), which the host never sends")
        }
    }

    private static func read<Length: FixedWidthInteger>(_ type: Length.Type, from bytes: inout ByteBuffer) throws -> Length {
        guard let value = bytes.readInteger(as: type) else { throw ServerFrameError(description: "a frame header cut short") }
        return value
    }
}

extension JSONObject {
    /// The message with its `timestamp` members (the envelope's, and the payload's in
    /// data frames and `error`) taken out: they are the host's clock, and all else is exact.
    var withoutTimestamps: JSONObject {
        var stripped = JSONObject()
        for (key, value) in self where key != "timestamp" {
            if key == "payload", let payload = value.objectValue {
                stripped.append(key, .object(payload.withoutTimestamps))
            } else {
                stripped.append(key, value)
            }
        }
        return stripped
    }
}

/// Asserts that `frame` is the message `expected` (members in wire order, timestamps
/// left out) and that its envelope carries a timestamp of the host's current time.
func assertMessage(
    _ frame: ServerFrame?, _ expected: JSONObject, file: StaticString = #filePath, line: UInt = #line
) {
    guard let message = frame?.message else {
        return XCTFail("expected \(JSONValue.object(expected).jsonText), found \(frame.map(\.description) ?? "nothing")", file: file, line: line)
    }
    XCTAssertEqual(message.withoutTimestamps, expected, "\(JSONValue.object(message).jsonText)", file: file, line: line)
    assertStampedNow(message["timestamp"], "the envelope's timestamp", file: file, line: line)
}

/// Asserts that `timestamp` is Unix milliseconds within a minute of now: a stamp of the
/// host's clock, not seconds, not zero.
func assertStampedNow(_ timestamp: JSONValue?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    guard let milliseconds = timestamp?.numberValue else {
        return XCTFail("\(what) is missing or not a number", file: file, line: line)
    }
    XCTAssertEqual(milliseconds, WallClock.nowMilliseconds(), accuracy: 60_000, "\(what)", file: file, line: line)
}
