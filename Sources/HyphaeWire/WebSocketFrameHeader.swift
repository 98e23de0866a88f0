import NIOCore

/// RFC 6455's frame header, written directly on bytes: the host writes pre-encoded
/// server frames at the head of the channel pipeline, and the bench writes masked
/// client frames without NIO's frame encoder. The one header writer both use.
public enum WebSocketFrameHeader {
    /// A frame's opcode (RFC 6455, section 5.2).
    public enum Opcode: UInt8, Sendable {
        case continuation = 0x0
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    /// The largest header of an unmasked (server) frame: 2 bytes plus an 8-byte length.
    public static let maximumServerLength = 10
    /// The largest header of a masked (client) frame: a server header plus the 4-byte key.
    public static let maximumClientLength = 14
    /// The most payload a control frame (close, ping, pong) may carry.
    public static let maximumControlPayload = 125

    /// Writes a final frame's header; with `maskKey`, a client's (the caller masks the payload).
    /// `compressed` sets RSV1, which marks a permessage-deflate message (RFC 7692, 6).
    public static func write(
        opcode: Opcode, payloadLength: Int, maskKey: (UInt8, UInt8, UInt8, UInt8)? = nil, compressed: Bool = false,
        into buffer: inout ByteBuffer
    ) {
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        let rsv1: UInt8 = compressed ? 0x40 : 0
        buffer.writeInteger(0x80 | rsv1 | opcode.rawValue)
        switch payloadLength {
        case ..<126:
            buffer.writeInteger(maskBit | UInt8(payloadLength))
        case ..<65_536:
            buffer.writeInteger(maskBit | 126)
            buffer.writeInteger(UInt16(payloadLength))
        default:
            buffer.writeInteger(maskBit | 127)
            buffer.writeInteger(UInt64(payloadLength))
        }
        if let maskKey {
            buffer.writeInteger(maskKey.0)
            buffer.writeInteger(maskKey.1)
            buffer.writeInteger(maskKey.2)
            buffer.writeInteger(maskKey.3)
        }
    }
}
