import HyphaeProtocol
/// Reads what the bench needs from a server message by scanning its bytes: the
/// message type, the envelope's `timestamp` and the payload's `sequence`. No JSON
/// parse, no allocation.
enum MessageScanner {
    /// The server messages that are not data frames.
    enum Kind: Equatable {
        case initReply
        case authSuccess
        case authFailed
        case subscribeSuccess
        case subscribeFailed
        case heartbeat
        case error
        case streamEnd
        case streamReloaded
        case unsubscribe
        /// Any other type: a pipeline's data frame.
        case data
    }

    private static let typePrefix: [UInt8] = Array(#"{"type":""#.utf8)
    private static let timestampKey: [UInt8] = Array(#""timestamp":"#.utf8)
    private static let sequenceKey: [UInt8] = Array(#""sequence":"#.utf8)
    private static let streamIDKey: [UInt8] = Array(#""stream_id":""#.utf8)

    private static let kindsByType: [(name: [UInt8], kind: Kind)] = {
        let names: [(MessageType, Kind)] = [
            (.heartbeat, .heartbeat), (.`init`, .initReply), (.authSuccess, .authSuccess), (.authFailed, .authFailed),
            (.subscribeSuccess, .subscribeSuccess), (.subscribeFailed, .subscribeFailed), (.error, .error),
            (.streamEnd, .streamEnd), (.streamReloaded, .streamReloaded), (.unsubscribe, .unsubscribe),
        ]
        return names.map { (Array($0.0.rawValue.utf8), $0.1) }
    }()

    static func kind(of message: UnsafeRawBufferPointer) -> Kind {
        guard message.count > typePrefix.count, hasPrefix(message, typePrefix, at: 0) else { return .data }
        let start = typePrefix.count
        var end = start
        while end < message.count, message[end] != UInt8(ascii: "\"") { end += 1 }
        let length = end - start
        for entry in kindsByType where entry.name.count == length && hasPrefix(message, entry.name, at: start) {
            return entry.kind
        }
        return .data
    }

    /// The first `"timestamp":` number (the envelope's), in milliseconds.
    static func timestamp(in message: UnsafeRawBufferPointer) -> Double? {
        guard let position = find(timestampKey, in: message, from: 0) else { return nil }
        return parseNumber(message, at: position + timestampKey.count)
    }

    /// The first `"sequence":` integer.
    static func sequence(in message: UnsafeRawBufferPointer) -> Int? {
        guard let position = find(sequenceKey, in: message, from: 0) else { return nil }
        var index = position + sequenceKey.count
        var value = 0
        var digits = 0
        while index < message.count {
            let byte = message[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = value &* 10 &+ Int(byte &- UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        return digits > 0 ? value : nil
    }

    /// The first `"stream_id":"..."` value's bytes (the ceiling server reads it from a subscribe).
    static func streamID(in message: UnsafeRawBufferPointer) -> [UInt8]? {
        guard let position = find(streamIDKey, in: message, from: 0) else { return nil }
        let start = position + streamIDKey.count
        var end = start
        while end < message.count, message[end] != UInt8(ascii: "\"") {
            end += message[end] == UInt8(ascii: "\\") ? 2 : 1
        }
        guard end <= message.count else { return nil }
        return Array(message[start..<end])
    }

    /// Whether the message starts (after JSON whitespace) with `{` and ends with `}`.
    static func isObject(_ message: UnsafeRawBufferPointer) -> Bool {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        var start = 0
        var end = message.count
        while start < end, isSpace(message[start]) { start += 1 }
        while end > start, isSpace(message[end - 1]) { end -= 1 }
        return end - start >= 2 && message[start] == UInt8(ascii: "{") && message[end - 1] == UInt8(ascii: "}")
    }

    static func contains(_ needle: [UInt8], in message: UnsafeRawBufferPointer) -> Bool {
        find(needle, in: message, from: 0) != nil
    }

    /// A JSON number: sign, digits, fraction, exponent.
    static func parseNumber(_ message: UnsafeRawBufferPointer, at start: Int) -> Double? {
        var index = start
        var negative = false
        if index < message.count, message[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var whole: Double = 0
        var digits = 0
        while index < message.count, let digit = digitValue(message[index]) {
            whole = whole * 10 + Double(digit)
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        if index < message.count, message[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < message.count, let digit = digitValue(message[index]) {
                whole += Double(digit) * scale
                scale /= 10
                index += 1
            }
        }
        if index < message.count, message[index] == UInt8(ascii: "e") || message[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < message.count, message[index] == UInt8(ascii: "-") || message[index] == UInt8(ascii: "+") {
                exponentNegative = message[index] == UInt8(ascii: "-")
                index += 1
            }
            var exponent = 0
            while index < message.count, let digit = digitValue(message[index]) {
                exponent = exponent * 10 + digit
                index += 1
            }
            var power = 1.0
            for _ in 0..<min(exponent, 400) { power *= 10 }
            whole = exponentNegative ? whole / power : whole * power
        }
        return negative ? -whole : whole
    }

    @inline(__always)
    private static func digitValue(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
    }

    @inline(__always)
    private static func hasPrefix(_ message: UnsafeRawBufferPointer, _ prefix: [UInt8], at offset: Int) -> Bool {
        guard offset + prefix.count <= message.count else { return false }
        for index in 0..<prefix.count where message[offset + index] != prefix[index] { return false }
        return true
    }

    static func find(_ needle: [UInt8], in message: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard let first = needle.first, message.count >= needle.count else { return nil }
        var index = start
        let last = message.count - needle.count
        while index <= last {
            if message[index] == first, hasPrefix(message, needle, at: index) { return index }
            index += 1
        }
        return nil
    }
}
