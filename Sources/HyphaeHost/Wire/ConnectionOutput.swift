import NIOCore

/// Where a connection's bytes go: its socket, written at the head of its channel
/// pipeline (`HeadWriter`), past NIO's frame encoder. The session owns it; its
/// subscriptions write their frames through it. Confined to the connection's event loop.
final class ConnectionOutput {
    private var context: ChannelHandlerContext?
    /// Registered with a loop's flush list while it has unflushed writes.
    var needsFlush = false
    var isWritable = true
    /// The client agreed to permessage-deflate: its data frames go out compressed
    /// (the shared `DeflatedFrame`); replies and notices stay plain, as RSV1 is per message.
    let acceptsCompressedFrames: Bool

    init(context: ChannelHandlerContext) {
        self.context = context
        acceptsCompressedFrames = (context.handler as? HeadWriter)?.acceptsCompressedFrames ?? false
    }

    var isOpen: Bool { context != nil }

    var allocator: ByteBufferAllocator { context?.channel.allocator ?? ByteBufferAllocator() }

    func write(_ buffer: ByteBuffer) {
        context?.write(NIOAny(buffer), promise: nil)
    }

    /// Writes and flushes in one pass down the pipeline, for a message with nothing to batch it with.
    func writeAndFlush(_ buffer: ByteBuffer) {
        context?.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    func write(_ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(NIOAny(buffer), promise: promise)
    }

    func flush() {
        needsFlush = false
        context?.flush()
    }

    func detach() {
        context = nil
    }
}
