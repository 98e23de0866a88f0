import HyphaeSockets
import NIOCore

/// Where a connection's bytes go: its socket, written at the head of its channel
/// pipeline (`HeadWriter`), past NIO's frame encoder. The session owns it; its
/// subscriptions write their frames through it. Confined to the connection's event loop.
///
/// On a plain connection whose descriptor the host knows (`direct_writes`), writes go
/// to the socket itself (`DirectSocketWriter`): those made between two flushes leave in
/// one `writev`. Whatever the kernel does not take goes to NIO, which waits for the
/// socket to drain; until NIO has written all it holds (its buffered bytes are back to
/// zero), every write goes through NIO too, so bytes never overtake each other.
/// Writability is NIO's, as on any connection.
final class ConnectionOutput {
    private var context: ChannelHandlerContext?
    /// Set on a direct connection until `detach`. The session detaches this output in
    /// `channelInactive`, which NIO fires in the same call that closes the descriptor,
    /// with only write-promise callbacks between, none of which writes, and the session
    /// evaluates nothing read once its channel is inactive: so no direct write can reach
    /// a descriptor number that another connection has since been given.
    /// The direct path reads nothing but this object, so that a frame to a subscriber
    /// touches no NIO object.
    private var directWriter: DirectSocketWriter?
    /// Direct writes since the last flush, in order.
    private var unflushed: [ByteBuffer] = []
    /// A write went to NIO since NIO last held nothing: direct writes wait until NIO's
    /// buffered bytes are back to zero, which is asked only while this is set.
    private var nioMayHoldWrites = true
    /// A write went to NIO since its last flush.
    private var nioNeedsFlush = false
    /// Counts the direct writes whose rest went to NIO (`hyphae_direct_write_handoffs_total`).
    private let handoffs: MetricValue?
    /// Registered with a loop's flush list while it has unflushed writes.
    var needsFlush = false
    var isWritable = true
    /// The client agreed to permessage-deflate: its data frames go out compressed
    /// (the shared `DeflatedFrame`); replies and notices stay plain, as RSV1 is per message.
    let acceptsCompressedFrames: Bool

    init(context: ChannelHandlerContext, handoffs: MetricValue? = nil) {
        self.context = context
        self.handoffs = handoffs
        let head = context.handler as? HeadWriter
        acceptsCompressedFrames = head?.acceptsCompressedFrames ?? false
        directWriter = head?.directDescriptor.map(DirectSocketWriter.init(descriptor:))
    }

    var isOpen: Bool { context != nil }

    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    func write(_ buffer: ByteBuffer) {
        if directWriter != nil, !nioHoldsWrites() {
            unflushed.append(buffer)
            if unflushed.count == DirectSocketWriter.maxBuffersPerWrite { sendUnflushed() }
            return
        }
        guard let context else { return }
        writeThroughNIO(buffer, context: context, promise: nil)
    }

    /// Writes and flushes in one pass, for a message with nothing to batch it with.
    func writeAndFlush(_ buffer: ByteBuffer) {
        guard let directWriter, !nioHoldsWrites(), unflushed.isEmpty else {
            write(buffer)
            flush()
            return
        }
        let sent = directWriter.send(buffer)
        guard sent < buffer.readableBytes, let context else { return }
        handoffs?.add(1)
        var rest = buffer
        rest.moveReaderIndex(forwardBy: sent)
        writeThroughNIO(rest, context: context, promise: nil)
        flushNIO(context: context)
    }

    /// Writes a message whose departure the caller waits for (a close frame).
    func write(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        // What was written before it leaves first.
        if !unflushed.isEmpty { sendUnflushed() }
        writeThroughNIO(buffer, context: context, promise: promise)
    }

    func flush() {
        needsFlush = false
        if !unflushed.isEmpty { sendUnflushed() }
        guard let context, nioNeedsFlush else { return }
        flushNIO(context: context)
    }

    /// Sends what is waiting, then writes everything through NIO from now on: for when
    /// something else has written to the channel through NIO (a protocol error's close).
    func writeOnlyThroughNIO() {
        if !unflushed.isEmpty { sendUnflushed() }
        directWriter = nil
    }

    func detach() {
        context = nil
        directWriter = nil
        unflushed.removeAll()
    }

    private func flushNIO(context: ChannelHandlerContext) {
        nioNeedsFlush = false
        context.flush()
    }

    /// Sends the direct writes in one `writev`; NIO takes what the kernel did not.
    private func sendUnflushed() {
        defer { unflushed.removeAll(keepingCapacity: true) }
        guard let directWriter else { return }
        var sent = directWriter.send(unflushed[...])
        var index = 0
        while index < unflushed.count, sent >= unflushed[index].readableBytes {
            sent -= unflushed[index].readableBytes
            index += 1
        }
        guard index < unflushed.count, let context else { return }
        handoffs?.add(1)
        unflushed[index].moveReaderIndex(forwardBy: sent)
        for rest in unflushed[index...] {
            writeThroughNIO(rest, context: context, promise: nil)
        }
    }

    private func writeThroughNIO(_ buffer: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        nioNeedsFlush = true
        nioMayHoldWrites = true
        context.write(NIOAny(buffer), promise: promise)
    }

    /// Whether NIO still holds bytes of this connection's (written or not), which a direct
    /// write would overtake. Asks NIO only after a write went its way: the direct path
    /// itself reads nothing but this object. NIO also holds the upgrade's response until
    /// it has gone, so the first direct write waits for it.
    private func nioHoldsWrites() -> Bool {
        guard nioMayHoldWrites else { return false }
        guard let context else { return true }
        nioMayHoldWrites = DirectSocketWriter.nioHoldsBytes(of: context.channel)
        return nioMayHoldWrites
    }
}
