import HyphaeCore
import HyphaeWire
import NIOCore

/// An `EncodedFrame` compressed once for every permessage-deflate subscriber, with the
/// two places for the stream id still open, as in the frame it comes from.
///
/// Head, middle and tail are each deflated on a fresh window and end on the header bits
/// of an empty stored block (`RawDeflater.appendSyncFlushed`). A subscriber's message is
/// `head + LEN NLEN id + middle + LEN NLEN id + tail`: its stream id rides in two
/// stored (uncompressed) blocks, so splicing it in costs what it costs today, a copy,
/// and the compression is shared by every stream id. Since no block refers back across
/// the id, this is one valid deflate message with no context taken over (RFC 7692, 7.2).
struct DeflatedFrame: Sendable {
    let bytes: [UInt8]
    let headEnd: Int
    let middleEnd: Int

    /// A stored block's LEN and NLEN (RFC 1951, 3.2.4).
    static let storedLengthBytes = 4
    /// What a stored block can hold; a longer escaped id cannot be spliced in.
    static let maximumStoredLength = 65_535

    /// The message's payload length for an escaped stream id of `idLength` bytes.
    func length(idLength: Int) -> Int {
        bytes.count + 2 * (Self.storedLengthBytes + idLength)
    }

    /// The compressed data frame for one stream id, header included (RSV1 set).
    func message(escapedStreamID id: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        let length = length(idLength: id.count)
        var buffer = allocator.buffer(capacity: length + WebSocketFrameHeader.maximumServerLength)
        WebSocketFrameHeader.write(opcode: .text, payloadLength: length, compressed: true, into: &buffer)
        let idLength = UInt16(truncatingIfNeeded: id.count)
        buffer.writeBytes(bytes[..<headEnd])
        buffer.writeInteger(idLength, endianness: .little)
        buffer.writeInteger(~idLength, endianness: .little)
        buffer.writeBytes(id)
        buffer.writeBytes(bytes[headEnd..<middleEnd])
        buffer.writeInteger(idLength, endianness: .little)
        buffer.writeInteger(~idLength, endianness: .little)
        buffer.writeBytes(id)
        buffer.writeBytes(bytes[middleEnd...])
        return buffer
    }

    /// Whether `id` fits in a stored block; otherwise the subscriber gets the plain frame.
    static func canCarry(escapedStreamID id: [UInt8]) -> Bool {
        id.count <= maximumStoredLength
    }
}

/// Compresses each frame of one instance once, for all its permessage-deflate
/// subscribers. It lives beside the frame encoder in the `websocket` sink and is used
/// by one producer at a time; zlib's state (about 270 KiB) is set up on first use, so
/// an instance nobody compresses for pays nothing.
final class FrameDeflater {
    /// zlib's fastest level. On a 64x64 `simulation_state` with the field (85.7 KB) it makes
    /// 37.8 KB in 0.8 ms of CPU where level 6 makes 35.2 KB in 4.2 ms (Docs/PERFORMANCE.md):
    /// 7 % more bytes for a fifth of the time, paid once per frame by the producer.
    static let level: Int32 = 1

    private var deflater: RawDeflater?
    private var didFail = false

    init() {}

    /// nil when zlib fails; then the subscribers get the uncompressed frame.
    func deflate(_ frame: EncodedFrame) -> DeflatedFrame? {
        guard !didFail else { return nil }
        if deflater == nil {
            deflater = RawDeflater(level: Self.level)
            didFail = deflater == nil
        }
        guard let deflater else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frame.bytes.count / 2 + 64)
        guard deflater.appendSyncFlushed(frame.head, to: &bytes) else { return nil }
        let headEnd = bytes.count
        guard deflater.appendSyncFlushed(frame.middle, to: &bytes) else { return nil }
        let middleEnd = bytes.count
        guard deflater.appendSyncFlushed(frame.tail, to: &bytes) else { return nil }
        return DeflatedFrame(bytes: bytes, headEnd: headEnd, middleEnd: middleEnd)
    }
}
