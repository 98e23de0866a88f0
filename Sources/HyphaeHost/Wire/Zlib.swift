import CZlib
import NIOCore

/// A raw-deflate compressor (RFC 1951, no zlib header), as permessage-deflate needs.
/// zlib keeps a pointer back to its `z_stream`, so the stream lives on the heap and
/// never moves. Not thread-safe: one owner at a time.
final class RawDeflater {
    private let stream: UnsafeMutablePointer<z_stream>
    /// Where zlib writes, grown to the largest frame seen; copied out with one memcpy.
    private var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)

    /// nil when zlib cannot set up a stream (out of memory).
    init?(level: Int32) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Window bits -15: raw deflate with the largest window, which every client accepts.
        let status = deflateInit2_(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            scratch.deallocate()
            return nil
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        scratch.deallocate()
    }

    /// Compresses `input` as a message of its own (a fresh window, so no reference reaches
    /// into bytes compressed before) and appends it to `output`, ended by a sync flush
    /// whose trailing `00 00 FF FF` is left off: the output ends on the header bits of an
    /// empty stored block, so the caller may go on with a stored block's LEN/NLEN and
    /// bytes, or end the message there (RFC 7692, 7.2.1). False if zlib failed.
    func appendSyncFlushed(_ input: ArraySlice<UInt8>, to output: inout [UInt8]) -> Bool {
        guard deflateReset(stream) == Z_OK else { return false }
        // deflateBound covers the data; the sync flush adds at most a block header and 4 bytes.
        let capacity = Int(deflateBound(stream, uLong(input.count))) + 16
        if scratch.count < capacity {
            scratch.deallocate()
            scratch = .allocate(byteCount: capacity, alignment: 1)
        }
        guard let base = scratch.baseAddress else { return false }
        let target = base.assumingMemoryBound(to: Bytef.self)
        let produced: Int? = input.withUnsafeBufferPointer { source in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.pointee.avail_in = uInt(source.count)
            stream.pointee.next_out = target
            stream.pointee.avail_out = uInt(capacity)
            let status = deflate(stream, Z_SYNC_FLUSH)
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
            // Output space left over means the flush is complete.
            guard status == Z_OK, stream.pointee.avail_in == 0, stream.pointee.avail_out > 0 else { return nil }
            return capacity - Int(stream.pointee.avail_out)
        }
        guard let produced, produced >= 5,
              target[produced - 4] == 0x00, target[produced - 3] == 0x00, target[produced - 2] == 0xFF, target[produced - 1] == 0xFF
        else { return false }
        output.append(contentsOf: UnsafeBufferPointer(start: target, count: produced - 4))
        return true
    }
}

/// A raw-deflate decompressor for one client message at a time, with a bound on what
/// it may produce.
final class RawInflater {
    enum Failure: Error {
        case tooLarge
        case corrupt(String)
    }

    private let stream: UnsafeMutablePointer<z_stream>
    private(set) var hasEnded = false

    init?() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard inflateInit2_(stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            return nil
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Inflates `input` into `output`, which may grow to `limit` readable bytes and no
    /// further: a message that would inflate past it fails with `.tooLarge` before more
    /// than `limit` plus one step is held.
    func inflate(_ input: ByteBuffer, into output: inout ByteBuffer, limit: Int) throws(Failure) {
        let failure = input.withUnsafeReadableBytes { raw in
            inflate(raw.bindMemory(to: UInt8.self), into: &output, limit: limit)
        }
        if let failure { throw failure }
    }

    private func inflate(_ source: UnsafeBufferPointer<UInt8>, into output: inout ByteBuffer, limit: Int) -> Failure? {
        guard source.count > 0 else { return nil }
        guard !hasEnded else { return .corrupt("data after the final deflate block") }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
        stream.pointee.avail_in = uInt(source.count)
        defer { stream.pointee.next_in = nil }
        while true {
            let room = limit - output.readableBytes
            // One byte past the limit tells a message that fits exactly from one that does not.
            let step = min(room + 1, 16_384)
            var status: Int32 = Z_OK
            var written = 0
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: step) { buffer in
                stream.pointee.next_out = buffer.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(step)
                status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                written = step - Int(stream.pointee.avail_out)
                stream.pointee.next_out = nil
                return written
            }
            if output.readableBytes > limit { return .tooLarge }
            switch status {
            case Z_STREAM_END:
                hasEnded = true
                return stream.pointee.avail_in == 0 ? nil : .corrupt("data after the final deflate block")
            case Z_OK:
                if stream.pointee.avail_in == 0 && written < step { return nil }
            case Z_BUF_ERROR:
                // No progress possible: all input is consumed and the output had room.
                return nil
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                return .corrupt(message)
            }
        }
    }
}
