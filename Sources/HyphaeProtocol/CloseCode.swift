/// The close codes of the protocol (PROTOCOL.md, Close codes): RFC 6455's that the
/// server sends, and the protocol's own in the private range 4000–4999.
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    public var description: String { String(rawValue) }

    /// The client sent `close` or a close frame.
    public static let normalClosure = CloseCode(rawValue: 1000)
    /// The server is shutting down.
    public static let goingAway = CloseCode(rawValue: 1001)
    /// The peer broke RFC 6455.
    public static let protocolError = CloseCode(rawValue: 1002)
    /// A close frame without a code; never sent, only reported.
    public static let noStatus = CloseCode(rawValue: 1005)
    /// Auth failed too often or too late, or too many invalid messages in a row.
    public static let policyViolation = CloseCode(rawValue: 1008)
    /// A client frame over the size limit.
    public static let messageTooBig = CloseCode(rawValue: 1009)
    /// An unexpected error on the connection.
    public static let internalError = CloseCode(rawValue: 1011)
    /// No sign of life within the heartbeat timeout.
    public static let heartbeatTimeout = CloseCode(rawValue: 4000)
    /// A subscription with the `close` policy overflowed its queue.
    public static let slowConsumer = CloseCode(rawValue: 4008)
}
