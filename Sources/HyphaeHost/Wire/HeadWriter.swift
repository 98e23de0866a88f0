import NIOCore

/// Sits at the head of an upgraded channel so that pre-encoded WebSocket frames
/// reach the socket without passing through the frame encoder.
final class HeadWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
}
