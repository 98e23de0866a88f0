import NIOCore
import NIOWebSocket

/// A client frame or message the host refuses, and the close code that says why.
package struct ClientFrameViolation: Error, Sendable, Equatable, CustomStringConvertible {
    package var description: String
    /// 1002 for a frame that breaks RFC 6455 or 7692; 1009 for a compressed message that
    /// inflates past the message limit; 1007 for compressed data that does not inflate.
    package var closeCode: CloseCode

    package init(description: String, closeCode: CloseCode = .protocolError) {
        self.description = description
        self.closeCode = closeCode
    }
}

/// Checks each frame a client sends before anything else reads it (RFC 6455, 5.1–5.2):
/// it must be masked, use a defined opcode and carry no RSV bit, except RSV1 on the
/// first frame of a data message when permessage-deflate was agreed (RFC 7692, 6: it
/// marks the message compressed). The first frame that does not is reported as a
/// `ClientFrameViolation` (the session closes with 1002) and nothing the client sends
/// after it is passed on, so a broken frame never counts as a sign of life or reaches
/// the protocol.
package final class ClientFrameValidator: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = WebSocketFrame
    package typealias InboundOut = WebSocketFrame

    private let allowsCompressedMessages: Bool
    private var hasFailed = false
    /// A data message's first frame has come and its final one has not.
    private var isInsideMessage = false

    package init(allowsCompressedMessages: Bool = false) {
        self.allowsCompressedMessages = allowsCompressedMessages
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !hasFailed else { return }
        let frame = unwrapInboundIn(data)
        if let violation = Self.violation(in: frame, allowsCompressedMessages: allowsCompressedMessages, isInsideMessage: isInsideMessage) {
            hasFailed = true
            context.fireErrorCaught(violation)
            return
        }
        switch frame.opcode {
        case .text, .binary, .continuation: isInsideMessage = !frame.fin
        default: break
        }
        context.fireChannelRead(data)
    }

    package static func violation(in frame: WebSocketFrame, allowsCompressedMessages: Bool = false, isInsideMessage: Bool = false) -> ClientFrameViolation? {
        if frame.maskKey == nil {
            return ClientFrameViolation(description: "client frames must be masked")
        }
        if frame.rsv2 || frame.rsv3 {
            return ClientFrameViolation(description: "RSV bits set without a negotiated extension")
        }
        if frame.rsv1 {
            guard allowsCompressedMessages else {
                return ClientFrameViolation(description: "RSV bits set without a negotiated extension")
            }
            // RSV1 marks a whole message: only its first frame carries it, and never a control frame.
            guard frame.opcode == .text || frame.opcode == .binary, !isInsideMessage else {
                return ClientFrameViolation(description: "RSV1 is only allowed on the first frame of a data message")
            }
        }
        switch frame.opcode {
        case .continuation, .text, .binary, .connectionClose, .ping, .pong:
            return nil
        default:
            return ClientFrameViolation(description: "reserved opcode \(UInt8(webSocketOpcode: frame.opcode))")
        }
    }
}
