// CloseCode and WebSocketFrameHeader moved to HyphaeWire, which the frame fuzzer builds
// without this module's Crypto; re-exported so that `import HyphaeProtocol` still brings
// them, as NIO re-exports NIOCore.
@_exported import HyphaeWire

/// The protocol's own close codes, in the private range 4000–4999 (PROTOCOL.md, Close codes).
extension CloseCode {
    /// No sign of life within the heartbeat timeout.
    public static let heartbeatTimeout = CloseCode(rawValue: 4000)
    /// A subscription with the `close` policy overflowed its queue.
    public static let slowConsumer = CloseCode(rawValue: 4008)
    /// The client does not read, and the host holds its limit of bytes for it.
    public static let outboundOverflow = CloseCode(rawValue: 4009)

    /// The codes the server closes with on its own account (it also echoes a peer's).
    public static let sentByServer: Set<CloseCode> = [
        .normalClosure, .goingAway, .protocolError, .invalidPayload, .policyViolation, .messageTooBig,
        .internalError, .heartbeatTimeout, .slowConsumer, .outboundOverflow,
    ]
}
