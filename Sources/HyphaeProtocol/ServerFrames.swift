import HyphaeCore
import HyphaeWire
import NIOCore

/// Server-to-client WebSocket frames as finished bytes (header and payload in one
/// buffer), ready to be written at the head of a channel pipeline. A data frame is
/// built once per stream id, then the same buffer goes to every subscriber that
/// reads the stream under that id.
public enum ServerFrames {
    /// A text frame carrying `bytes`.
    public static func text(_ bytes: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: bytes.count + WebSocketFrameHeader.maximumServerLength)
        WebSocketFrameHeader.write(opcode: .text, payloadLength: bytes.count, into: &buffer)
        buffer.writeBytes(bytes)
        return buffer
    }

    /// A protocol message, encoded and framed.
    public static func message(_ message: ServerMessage, timestamp: Double = WallClock.nowMilliseconds(), allocator: ByteBufferAllocator) -> ByteBuffer {
        var writer = JSONWriter()
        return text(message.encoded(timestamp: timestamp, writer: &writer), allocator: allocator)
    }

    /// A data frame for one stream id: the shared encoding with the id spliced in twice.
    public static func data(_ frame: EncodedFrame, escapedStreamID id: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = frame.length(idLength: id.count)
        var buffer = allocator.buffer(capacity: length + WebSocketFrameHeader.maximumServerLength)
        WebSocketFrameHeader.write(opcode: .text, payloadLength: length, into: &buffer)
        buffer.writeBytes(frame.head)
        buffer.writeBytes(id)
        buffer.writeBytes(frame.middle)
        buffer.writeBytes(id)
        buffer.writeBytes(frame.tail)
        return buffer
    }

    /// A close frame: the code and a reason cut to fit a control frame.
    public static func close(_ code: CloseCode, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        let reasonBytes = Array(reason.utf8.prefix(WebSocketFrameHeader.maximumControlPayload - 2))
        var buffer = allocator.buffer(capacity: 4 + reasonBytes.count)
        WebSocketFrameHeader.write(opcode: .close, payloadLength: 2 + reasonBytes.count, into: &buffer)
        buffer.writeInteger(code.rawValue)
        buffer.writeBytes(reasonBytes)
        return buffer
    }

    /// The answer to a ping, carrying its data.
    public static func pong(_ data: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let payload = data.readableBytesView.prefix(WebSocketFrameHeader.maximumControlPayload)
        var buffer = allocator.buffer(capacity: payload.count + 2)
        WebSocketFrameHeader.write(opcode: .pong, payloadLength: payload.count, into: &buffer)
        buffer.writeBytes(payload)
        return buffer
    }
}
