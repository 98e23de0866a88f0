/// One RESP2 reply from a Redis server (https://redis.io/docs/latest/develop/reference/protocol-spec/).
public enum RESPValue: Sendable, Equatable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR ...`: the server refused the command; the text says why.
    case error(String)
    /// `:42`
    case integer(Int)
    /// `$5 hello`; nil is the null bulk string `$-1`.
    case bulkString([UInt8]?)
    /// `*2 ...`; nil is the null array `*-1` (what `XREAD BLOCK` answers on a timeout).
    case array([RESPValue]?)

    /// The value as text when it is a simple or bulk string.
    public var text: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The elements of a non-null array.
    public var elements: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// Whether it is a null bulk string or array.
    public var isNull: Bool {
        switch self {
        case .bulkString(nil), .array(nil): true
        default: false
        }
    }
}

/// A command for the server: an array of bulk strings, as RESP2 clients send them.
public struct RESPCommand: Sendable, Equatable {
    public var arguments: [[UInt8]]

    public init(_ arguments: [[UInt8]]) {
        self.arguments = arguments
    }

    public init(_ arguments: String...) {
        self.arguments = arguments.map { Array($0.utf8) }
    }

    /// The command's name, for messages (never its arguments, which may hold a password).
    public var name: String {
        arguments.first.map { String(decoding: $0, as: UTF8.self).uppercased() } ?? "(empty)"
    }
}
