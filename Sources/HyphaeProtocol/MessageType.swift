/// The `type` of a protocol message (PROTOCOL.md, Client messages and Server messages).
/// Data frames carry their pipeline's own message types, which are not listed here.
public struct MessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    // Sent by both sides.
    public static let `init` = MessageType("init")
    public static let unsubscribe = MessageType("unsubscribe")

    // Sent by clients.
    public static let auth = MessageType("auth")
    public static let subscribe = MessageType("subscribe")
    public static let pong = MessageType("pong")
    public static let close = MessageType("close")

    // Sent by the server.
    public static let authSuccess = MessageType("auth_success")
    public static let authFailed = MessageType("auth_failed")
    public static let subscribeSuccess = MessageType("subscribe_success")
    public static let subscribeFailed = MessageType("subscribe_failed")
    public static let heartbeat = MessageType("heartbeat")
    public static let error = MessageType("error")
    public static let streamEnd = MessageType("stream_end")
    public static let streamReloaded = MessageType("stream_reloaded")
    public static let streamStatus = MessageType("stream_status")

    /// What a client may send, in the order the protocol introduces them.
    public static let clientTypes: [MessageType] = [.`init`, .auth, .subscribe, .unsubscribe, .pong, .close]

    /// What the server sends besides data frames.
    public static let serverTypes: [MessageType] = [
        .`init`, .authSuccess, .authFailed, .subscribeSuccess, .subscribeFailed, .unsubscribe,
        .heartbeat, .error, .streamEnd, .streamReloaded, .streamStatus,
    ]

    /// Whether a message the server sent is one of the protocol's own rather than a data frame.
    public var isServerMessage: Bool { Self.serverTypes.contains(self) }
}
