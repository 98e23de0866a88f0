import NIOCore
import NIOWebSocket

/// A client frame that breaks RFC 6455 in a way NIO's decoder lets through.
struct ClientFrameViolation: Error, Sendable, Equatable, CustomStringConvertible {
    var description: String
}

/// Checks each frame a client sends before anything else reads it (RFC 6455, 5.1–5.2):
/// it must be masked, carry no RSV bit (no extension is negotiated) and use a defined
/// opcode. The first frame that does not is reported as a `ClientFrameViolation`
/// (the session closes with 1002) and nothing the client sends after it is passed on,
/// so a broken frame never counts as a sign of life or reaches the protocol.
final class ClientFrameValidator: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    private var hasFailed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !hasFailed else { return }
        let frame = unwrapInboundIn(data)
        if let violation = Self.violation(in: frame) {
            hasFailed = true
            context.fireErrorCaught(violation)
            return
        }
        context.fireChannelRead(data)
    }

    static func violation(in frame: WebSocketFrame) -> ClientFrameViolation? {
        if frame.maskKey == nil {
            return ClientFrameViolation(description: "client frames must be masked")
        }
        if frame.rsv1 || frame.rsv2 || frame.rsv3 {
            return ClientFrameViolation(description: "RSV bits set without a negotiated extension")
        }
        switch frame.opcode {
        case .continuation, .text, .binary, .connectionClose, .ping, .pong:
            return nil
        default:
            return ClientFrameViolation(description: "reserved opcode \(UInt8(webSocketOpcode: frame.opcode))")
        }
    }
}
