import NIOCore

/// One line a program wrote, without its line break.
struct ProgramLine: Sendable {
    /// Counted from 1 since the program started, for messages that point at it.
    var number: Int
    var bytes: ByteBuffer
    /// False for text the program left without a line break when its output ended.
    var isTerminated = true
    /// True when the line was longer than the limit and only its start is kept.
    var isTruncated = false
}

/// A line the host cannot take, with enough of it to find the bug.
struct ProtocolViolation: Error, CustomStringConvertible {
    var lineNumber: Int
    var problem: String
    /// The line's first bytes, escaped for a log line.
    var prefix: String

    init(lineNumber: Int, problem: String, line: ByteBuffer) {
        self.lineNumber = lineNumber
        self.problem = problem
        prefix = Self.quotedPrefix(of: line)
    }

    var description: String {
        "line \(lineNumber) of its output \(problem); the line starts with \(prefix)"
    }

    static let prefixBytes = 80

    static func quotedPrefix(of line: ByteBuffer) -> String {
        let view = line.readableBytesView
        let head = view.prefix(prefixBytes)
        var text = ""
        for scalar in String(decoding: head, as: UTF8.self).unicodeScalars {
            // Control characters would garble the log line this ends up in.
            if scalar.value < 0x20 || scalar.value == 0x7F {
                text += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                text.unicodeScalars.append(scalar)
            }
        }
        return "'" + text + (view.count > prefixBytes ? "…'" : "'")
    }
}

/// Splits a stream of bytes into lines of at most `maxLineBytes`, so that a program
/// cannot grow the host's memory with a line that never ends: no more than the limit
/// and one read are ever held.
///
/// What happens to a longer line is the caller's choice: the program's output is a
/// protocol, and a line cut short is a broken frame, so it is refused; its standard
/// error is for people, and the start of a long line is still worth logging.
struct LineDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = ProgramLine

    enum Overflow {
        case refuse
        case truncate
    }

    let maxLineBytes: Int
    let overflow: Overflow
    private var linesSeen = 0
    /// Bytes already searched for a line break, so that a long line is scanned once
    /// rather than once per read.
    private var searched = 0
    /// Set while the rest of a truncated line is skipped.
    private var skippingRest = false

    init(maxLineBytes: Int, overflow: Overflow) {
        self.maxLineBytes = maxLineBytes
        self.overflow = overflow
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> ProgramLine? {
        while true {
            let view = buffer.readableBytesView
            let start = view.startIndex + min(searched, view.count)
            let newline = view[start...].firstIndex(of: UInt8(ascii: "\n"))
            if skippingRest {
                guard let newline else {
                    buffer.moveReaderIndex(forwardBy: view.count)
                    searched = 0
                    return nil
                }
                buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
                skippingRest = false
                searched = 0
                continue
            }
            guard let newline else {
                searched = view.count
                if view.count > maxLineBytes { return try overlong(&buffer) }
                return nil
            }
            let length = newline - view.startIndex
            if length > maxLineBytes { return try overlong(&buffer) }
            searched = 0
            guard var line = buffer.readSlice(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            linesSeen += 1
            return ProgramLine(number: linesSeen, bytes: line)
        }
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ProgramLine? {
        if let line = try decode(buffer: &buffer) { return line }
        guard buffer.readableBytes > 0, !skippingRest else {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return nil
        }
        searched = 0
        linesSeen += 1
        let rest = buffer.readSlice(length: buffer.readableBytes) ?? ByteBuffer()
        return ProgramLine(number: linesSeen, bytes: rest, isTerminated: false)
    }

    private mutating func overlong(_ buffer: inout ByteBuffer) throws -> ProgramLine? {
        linesSeen += 1
        switch overflow {
        case .refuse:
            throw ProtocolViolation(
                lineNumber: linesSeen,
                problem: "is longer than max_line_bytes (\(maxLineBytes) bytes); raise max_line_bytes or write smaller frames",
                line: buffer
            )
        case .truncate:
            let head = buffer.readSlice(length: maxLineBytes) ?? ByteBuffer()
            skippingRest = true
            searched = 0
            return ProgramLine(number: linesSeen, bytes: head, isTruncated: true)
        }
    }
}
