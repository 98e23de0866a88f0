import HyphaeCore
import NIOCore

/// Builds server-to-client WebSocket frames as finished bytes (header and payload
/// in one buffer), written at the head of the channel pipeline. A data frame is
/// built once per stream id per event loop, then the same buffer goes to every
/// subscriber that reads it under that id.
enum OutboundFrames {
    enum Opcode: UInt8 {
        case text = 0x1
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    /// The largest header a server frame needs: 2 bytes plus an 8-byte length.
    static let maximumHeaderLength = 10

    static func writeHeader(opcode: Opcode, payloadLength: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | opcode.rawValue)
        switch payloadLength {
        case ..<126:
            buffer.writeInteger(UInt8(payloadLength))
        case ..<65_536:
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(payloadLength))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(payloadLength))
        }
    }

    /// A text frame carrying `bytes`.
    static func text(_ bytes: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: bytes.count + maximumHeaderLength)
        writeHeader(opcode: .text, payloadLength: bytes.count, into: &buffer)
        buffer.writeBytes(bytes)
        return buffer
    }

    /// A data frame for one stream id: the shared encoding with the id spliced in twice.
    static func data(_ frame: EncodedFrame, escapedStreamID id: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = frame.length(idLength: id.count)
        var buffer = allocator.buffer(capacity: length + maximumHeaderLength)
        writeHeader(opcode: .text, payloadLength: length, into: &buffer)
        buffer.writeBytes(frame.head)
        buffer.writeBytes(id)
        buffer.writeBytes(frame.middle)
        buffer.writeBytes(id)
        buffer.writeBytes(frame.tail)
        return buffer
    }

    static func close(code: UInt16, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        // Control frames carry at most 125 bytes: the code and a reason cut to fit.
        let reasonBytes = Array(reason.utf8.prefix(123))
        var buffer = allocator.buffer(capacity: 4 + reasonBytes.count)
        writeHeader(opcode: .close, payloadLength: 2 + reasonBytes.count, into: &buffer)
        buffer.writeInteger(code)
        buffer.writeBytes(reasonBytes)
        return buffer
    }

    static func pong(_ data: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        let payload = data.readableBytesView.prefix(125)
        var buffer = allocator.buffer(capacity: payload.count + 2)
        writeHeader(opcode: .pong, payloadLength: payload.count, into: &buffer)
        buffer.writeBytes(payload)
        return buffer
    }
}

/// The protocol's server messages other than data frames:
/// `{"type":T,"stream_id":ID,"timestamp":MS,"payload":{...}}`.
struct ServerMessage {
    var type: String
    var streamID: String?
    var payload: JSONObject?

    init(_ type: String, streamID: String? = nil, payload: JSONObject? = nil) {
        self.type = type
        self.streamID = streamID
        self.payload = payload
    }

    static func error(_ code: String, _ message: String, streamID: String? = nil, timestamp: Double) -> ServerMessage {
        ServerMessage("error", streamID: streamID, payload: [
            "error_code": .string(code), "message": .string(message), "timestamp": .double(timestamp),
        ])
    }

    func encoded(timestamp: Double, writer: inout JSONWriter) -> [UInt8] {
        writer.reset()
        writer.writeRaw("{\"type\":")
        writer.write(type)
        if let streamID {
            writer.writeRaw(",\"stream_id\":")
            writer.write(streamID)
        }
        writer.writeRaw(",\"timestamp\":")
        writer.write(timestamp)
        if let payload {
            writer.writeRaw(",\"payload\":")
            writer.write(.object(payload))
        }
        writer.writeRaw("}")
        return writer.bytes
    }
}
