import NIOCore

/// Sits at the head of an upgraded channel so that pre-encoded WebSocket frames
/// reach the socket without passing through the frame encoder. It also carries what
/// the handshake agreed about those frames, and the socket's descriptor where the host
/// writes to it itself, for the `ConnectionOutput` built on it.
final class HeadWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// permessage-deflate was agreed: data frames may go out compressed.
    let acceptsCompressedFrames: Bool
    /// The connection's socket, on a plain connection the host accepted itself
    /// (`direct_writes`); nil: every write goes through NIO.
    let directDescriptor: CInt?

    init(acceptsCompressedFrames: Bool = false, directDescriptor: CInt? = nil) {
        self.acceptsCompressedFrames = acceptsCompressedFrames
        self.directDescriptor = directDescriptor
    }
}
