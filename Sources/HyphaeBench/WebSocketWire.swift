import HyphaeWire
import NIOCore

/// The few pieces of RFC 6455 the bench needs, written directly on bytes: the
/// upgrade request and response, frame headers, and masking.
enum WebSocketWire {
    typealias Opcode = WebSocketFrameHeader.Opcode

    /// RFC 6455's sample nonce: the bench does not need a fresh one per connection.
    static let clientKey = "dGhlIHNhbXBsZSBub25jZQ=="
    static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    static let headerTerminator: [UInt8] = Array("\r\n\r\n".utf8)

    static func upgradeRequest(path: String, host: String, port: Int) -> [UInt8] {
        Array((
            "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(clientKey)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).utf8)
    }

    /// Where an HTTP head ends (the index just past its blank line), if it has arrived.
    static func headEnd(in bytes: UnsafeRawBufferPointer) -> Int? {
        MessageScanner.find(headerTerminator, in: bytes, from: 0).map { $0 + headerTerminator.count }
    }

    /// A masked client frame, as RFC 6455 requires of clients.
    static func maskedFrame(opcode: Opcode, payload: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: payload.count + WebSocketFrameHeader.maximumClientLength)
        let mask: (UInt8, UInt8, UInt8, UInt8) = (0x1F, 0x8B, 0x3C, 0xD5)
        WebSocketFrameHeader.write(opcode: opcode, payloadLength: payload.count, maskKey: mask, into: &buffer)
        for (index, byte) in payload.enumerated() {
            let maskByte: UInt8
            switch index & 3 {
            case 0: maskByte = mask.0
            case 1: maskByte = mask.1
            case 2: maskByte = mask.2
            default: maskByte = mask.3
            }
            buffer.writeInteger(byte ^ maskByte)
        }
        return buffer
    }

    /// One complete frame starting at `start` in a buffer: where its payload lies and
    /// where it ends (indices into the same buffer); nil while it has not fully arrived.
    struct FrameBounds {
        var isFinal: Bool
        var opcode: UInt8
        var start: Int
        var payloadStart: Int
        var payloadLength: Int
        var maskKey: (UInt8, UInt8, UInt8, UInt8)?
        /// The index just past the frame.
        var end: Int { payloadStart + payloadLength }
        /// Header and payload, in bytes.
        var length: Int { end - start }
    }

    static func frameBounds(in bytes: UnsafeRawBufferPointer, from offset: Int) -> FrameBounds? {
        let available = bytes.count - offset
        guard available >= 2 else { return nil }
        let first = bytes[offset]
        let second = bytes[offset + 1]
        let isMasked = second & 0x80 != 0
        var headerLength = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard available >= 4 else { return nil }
            length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            headerLength = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            var value: UInt64 = 0
            for index in 2..<10 { value = value << 8 | UInt64(bytes[offset + index]) }
            guard value < UInt64(Int32.max) else { return nil }
            length = Int(value)
            headerLength = 10
        }
        var maskKey: (UInt8, UInt8, UInt8, UInt8)?
        if isMasked {
            guard available >= headerLength + 4 else { return nil }
            maskKey = (bytes[offset + headerLength], bytes[offset + headerLength + 1], bytes[offset + headerLength + 2], bytes[offset + headerLength + 3])
            headerLength += 4
        }
        guard available >= headerLength + length else { return nil }
        return FrameBounds(
            isFinal: first & 0x80 != 0, opcode: first & 0x0F, start: offset, payloadStart: offset + headerLength,
            payloadLength: length, maskKey: maskKey)
    }
}
