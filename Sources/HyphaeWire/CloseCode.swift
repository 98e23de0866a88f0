/// A WebSocket close code (RFC 6455, 7.4). The codes RFC 6455 defines that the host
/// sends or reports are here; the protocol's own, in the private range 4000–4999, and
/// the set the server closes with are HyphaeProtocol's (PROTOCOL.md, Close codes).
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
    /// A text message that is not valid UTF-8.
    public static let invalidPayload = CloseCode(rawValue: 1007)
    /// Auth failed too often or too late, or too many invalid messages in a row.
    public static let policyViolation = CloseCode(rawValue: 1008)
    /// A client frame over the size limit.
    public static let messageTooBig = CloseCode(rawValue: 1009)
    /// An unexpected error on the connection.
    public static let internalError = CloseCode(rawValue: 1011)

    /// Whether a peer may put this code in a close frame (RFC 6455, 7.4): the defined
    /// codes other than those reserved for reporting (1004–1006, 1015), the registered
    /// 1012–1014, and the ranges for libraries and applications (3000–4999).
    public var mayBeSentByPeer: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }
}
