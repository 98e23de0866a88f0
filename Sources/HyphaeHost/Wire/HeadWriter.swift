import NIOCore

/// Sits at the head of an upgraded channel so that pre-encoded WebSocket frames
/// reach the socket without passing through the frame encoder. It also carries what
/// the handshake agreed about those frames, for the `ConnectionOutput` built on it.
final class HeadWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// permessage-deflate was agreed: data frames may go out compressed.
    let acceptsCompressedFrames: Bool

    init(acceptsCompressedFrames: Bool = false) {
        self.acceptsCompressedFrames = acceptsCompressedFrames
    }
}
