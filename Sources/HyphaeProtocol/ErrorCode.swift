/// The `error_code` of `error`, `auth_failed` and `subscribe_failed` messages
/// (PROTOCOL.md, Error codes).
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    // auth_failed
    public static let authFailed = ErrorCode(rawValue: "AUTH_FAILED")
    public static let authError = ErrorCode(rawValue: "AUTH_ERROR")
    public static let tooManyConnections = ErrorCode(rawValue: "TOO_MANY_CONNECTIONS")

    // subscribe_failed
    public static let notAuthenticated = ErrorCode(rawValue: "NOT_AUTHENTICATED")
    public static let subscribeError = ErrorCode(rawValue: "SUBSCRIBE_ERROR")
    public static let unknownStream = ErrorCode(rawValue: "UNKNOWN_STREAM")
    public static let forbidden = ErrorCode(rawValue: "FORBIDDEN")
    public static let duplicateStreamID = ErrorCode(rawValue: "DUPLICATE_STREAM_ID")
    public static let tooManySubscriptions = ErrorCode(rawValue: "TOO_MANY_SUBSCRIPTIONS")
    public static let capacity = ErrorCode(rawValue: "CAPACITY")
    public static let subscriptionsNotSupported = ErrorCode(rawValue: "SUBSCRIPTIONS_NOT_SUPPORTED")

    // error
    public static let initFailed = ErrorCode(rawValue: "INIT_FAILED")
    public static let invalidMessage = ErrorCode(rawValue: "INVALID_MESSAGE")
    public static let unknownMessageType = ErrorCode(rawValue: "UNKNOWN_MESSAGE_TYPE")
    public static let unknownStreamID = ErrorCode(rawValue: "UNKNOWN_STREAM_ID")
    public static let streamError = ErrorCode(rawValue: "STREAM_ERROR")
}
