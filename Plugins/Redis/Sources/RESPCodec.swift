import HyphaeCore
import NIOCore

/// How much of a reply the decoder accepts; a server (or whatever answers on its port)
/// that sends more gets `RESPDecodingError` and the connection is closed.
public struct RESPLimits: Sendable, Equatable {
    /// The longest bulk string, in bytes.
    public var maximumBulkLength: Int
    /// The most elements of one array.
    public var maximumArrayCount: Int
    /// How deeply arrays may nest (an `XREAD` reply nests 4 deep).
    public var maximumDepth: Int
    /// The most bytes one reply may take, all parts together; also the longest
    /// simple string or integer line.
    public var maximumReplyBytes: Int

    public init(maximumBulkLength: Int, maximumArrayCount: Int, maximumDepth: Int, maximumReplyBytes: Int) {
        self.maximumBulkLength = maximumBulkLength
        self.maximumArrayCount = maximumArrayCount
        self.maximumDepth = maximumDepth
        self.maximumReplyBytes = maximumReplyBytes
    }

    /// Room for an `XREAD` of a few hundred frames of some kilobytes each.
    public static let standard = RESPLimits(
        maximumBulkLength: 16 << 20, maximumArrayCount: 100_000, maximumDepth: 8, maximumReplyBytes: 64 << 20)
}

/// A reply the decoder refuses: what was wrong, and where.
public struct RESPDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "invalid reply from the Redis server: \(reason)" }
}

/// Turns bytes from the server into replies, one whole reply at a time: a reply split
/// over several reads waits for its last byte; bytes that are not RESP2, or a reply
/// over the limits, fail the connection with a `RESPDecodingError`.
public struct RESPDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    public let limits: RESPLimits

    public init(limits: RESPLimits = .standard) {
        self.limits = limits
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try Self.decode(from: &buffer, limits: limits) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// Reads one whole reply from the front of `buffer` and moves past it; nil, with
    /// the buffer untouched, when the reply is not complete yet.
    public static func decode(from buffer: inout ByteBuffer, limits: RESPLimits) throws(RESPDecodingError) -> RESPValue? {
        var reader = Reader(buffer: buffer, limits: limits)
        guard let value = try reader.value(depth: 0) else {
            if buffer.readableBytes > limits.maximumReplyBytes {
                throw RESPDecodingError("a reply longer than \(limits.maximumReplyBytes) bytes")
            }
            return nil
        }
        buffer.moveReaderIndex(to: reader.index)
        return value
    }

    private struct Reader {
        let buffer: ByteBuffer
        let limits: RESPLimits
        var index: Int
        let start: Int

        init(buffer: ByteBuffer, limits: RESPLimits) {
            self.buffer = buffer
            self.limits = limits
            index = buffer.readerIndex
            start = buffer.readerIndex
        }

        mutating func value(depth: Int) throws(RESPDecodingError) -> RESPValue? {
            guard let marker = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
            let lineStart = index + 1
            guard let line = try self.line(from: lineStart) else { return nil }
            switch marker {
            case UInt8(ascii: "+"):
                index = line.next
                return .simpleString(text(line))
            case UInt8(ascii: "-"):
                index = line.next
                return .error(text(line))
            case UInt8(ascii: ":"):
                index = line.next
                return .integer(try integer(line, what: "integer"))
            case UInt8(ascii: "$"):
                let length = try integer(line, what: "bulk string length")
                if length == -1 {
                    index = line.next
                    return .bulkString(nil)
                }
                guard length >= 0, length <= limits.maximumBulkLength else {
                    throw RESPDecodingError("a bulk string length of \(length) (allowed: -1 to \(limits.maximumBulkLength))")
                }
                let end = line.next + length
                guard end - start + 2 <= limits.maximumReplyBytes else {
                    throw RESPDecodingError("a reply longer than \(limits.maximumReplyBytes) bytes")
                }
                guard end + 2 <= buffer.writerIndex else { return nil }
                guard buffer.getInteger(at: end, as: UInt8.self) == UInt8(ascii: "\r"),
                      buffer.getInteger(at: end + 1, as: UInt8.self) == UInt8(ascii: "\n") else {
                    throw RESPDecodingError("a bulk string of \(length) bytes not followed by CRLF")
                }
                let bytes = buffer.getBytes(at: line.next, length: length) ?? []
                index = end + 2
                return .bulkString(bytes)
            case UInt8(ascii: "*"):
                let count = try integer(line, what: "array length")
                if count == -1 {
                    index = line.next
                    return .array(nil)
                }
                guard count >= 0, count <= limits.maximumArrayCount else {
                    throw RESPDecodingError("an array of \(count) elements (allowed: -1 to \(limits.maximumArrayCount))")
                }
                guard depth < limits.maximumDepth else {
                    throw RESPDecodingError("arrays nested more than \(limits.maximumDepth) deep")
                }
                index = line.next
                var elements: [RESPValue] = []
                elements.reserveCapacity(min(count, 1024))
                for _ in 0..<count {
                    guard let element = try value(depth: depth + 1) else { return nil }
                    elements.append(element)
                }
                return .array(elements)
            default:
                throw RESPDecodingError("a reply starting with byte \(marker), not one of + - : $ *")
            }
        }

        /// The text of a line from `from` to its CRLF, and where the next one starts.
        private func line(from lineStart: Int) throws(RESPDecodingError) -> (start: Int, end: Int, next: Int)? {
            let available = buffer.writerIndex - lineStart
            let searched = min(available, limits.maximumReplyBytes - (lineStart - start))
            guard let view = buffer.viewBytes(at: lineStart, length: max(0, searched)) else { return nil }
            guard let offset = view.firstIndex(of: UInt8(ascii: "\r")) else {
                if available > searched { throw RESPDecodingError("a line longer than \(limits.maximumReplyBytes) bytes") }
                return nil
            }
            let end = offset
            guard end + 1 < buffer.writerIndex else { return nil }
            guard buffer.getInteger(at: end + 1, as: UInt8.self) == UInt8(ascii: "\n") else {
                throw RESPDecodingError("a carriage return not followed by a line feed")
            }
            return (lineStart, end, end + 2)
        }

        private func text(_ line: (start: Int, end: Int, next: Int)) -> String {
            buffer.getString(at: line.start, length: line.end - line.start) ?? ""
        }

        private func integer(_ line: (start: Int, end: Int, next: Int), what: String) throws(RESPDecodingError) -> Int {
            let digits = text(line)
            guard digits.utf8.count <= 20, let value = Int(digits) else {
                throw RESPDecodingError("\(what) '\(digits.prefix(utf8Bytes: 32))' is not an integer")
            }
            return value
        }
    }
}

/// Writes commands as RESP2 arrays of bulk strings.
public struct RESPCommandEncoder: MessageToByteEncoder {
    public typealias OutboundIn = RESPCommand

    public init() {}

    public func encode(data: RESPCommand, out: inout ByteBuffer) {
        Self.write(data, into: &out)
    }

    public static func write(_ command: RESPCommand, into out: inout ByteBuffer) {
        out.writeInteger(UInt8(ascii: "*"))
        out.writeString(String(command.arguments.count))
        out.writeStaticString("\r\n")
        for argument in command.arguments {
            out.writeInteger(UInt8(ascii: "$"))
            out.writeString(String(argument.count))
            out.writeStaticString("\r\n")
            out.writeBytes(argument)
            out.writeStaticString("\r\n")
        }
    }
}
