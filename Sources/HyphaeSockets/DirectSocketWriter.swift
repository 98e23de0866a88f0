#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// Writes to a connected socket with `send(2)` or `writev(2)`, from the event loop that
/// owns its channel, past NIO's channel write path: no pending-writes bookkeeping, no
/// promise and no pipeline pass per write. It never blocks and never retries: it says
/// how many bytes the kernel took, and the caller hands the rest to NIO, which waits
/// for the socket to drain. It holds nothing but the descriptor, so that it costs a
/// connection no memory: `writev`'s vector lives on the stack for the call.
public struct DirectSocketWriter: Sendable {
    public let descriptor: CInt

    /// The most buffers one `writev` takes; a caller with more sends them in turns.
    public static let maxBuffersPerWrite = 64

    public init(descriptor: CInt) {
        self.descriptor = descriptor
    }

    /// Whether NIO still holds bytes of `channel`'s (written or not yet flushed), which a
    /// direct write would overtake. True when NIO cannot say. Ask it only after a write
    /// went NIO's way: it reads the channel, which the direct path otherwise never touches.
    public static func nioHoldsBytes(of channel: Channel) -> Bool {
        guard let held = try? channel.syncOptions?.getOption(.bufferedWritableBytes) else { return true }
        return held > 0
    }

    /// Sends `buffer`'s readable bytes; returns how many the kernel took, 0 when it took
    /// none (a full socket, or an error that NIO meets again on the rest and reports).
    public func send(_ buffer: ByteBuffer) -> Int {
        let sent = buffer.withUnsafeReadableBytes { bytes in
            #if canImport(Glibc)
            Glibc.send(descriptor, bytes.baseAddress, bytes.count, CInt(MSG_NOSIGNAL) | CInt(MSG_DONTWAIT))
            #elseif canImport(Musl)
            Musl.send(descriptor, bytes.baseAddress, bytes.count, MSG_NOSIGNAL | MSG_DONTWAIT)
            #else
            Darwin.send(descriptor, bytes.baseAddress, bytes.count, 0)
            #endif
        }
        return max(sent, 0)
    }

    /// Sends the readable bytes of the first `maxBuffersPerWrite` of `buffers` in one
    /// `writev`, in order; returns how many bytes the kernel took (0 as for `send`).
    public func send(_ buffers: ArraySlice<ByteBuffer>) -> Int {
        guard buffers.count > 1 else { return buffers.first.map(send) ?? 0 }
        let count = min(buffers.count, Self.maxBuffersPerWrite)
        // The socket is non-blocking (NIO made it so), and a peer that has gone makes
        // EPIPE, not SIGPIPE: NIO ignores SIGPIPE for the process (Linux) or the socket (Darwin).
        let sent = withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors in
            for (index, buffer) in buffers.prefix(count).enumerated() {
                buffer.withUnsafeReadableBytes { bytes in
                    vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                }
            }
            // Each pointer stays valid through the call: `buffers` keeps its storage alive.
            return withExtendedLifetime(buffers) { writev(descriptor, vectors.baseAddress, CInt(count)) }
        }
        return max(sent, 0)
    }
}
