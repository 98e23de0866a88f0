import Logging
import NIOCore

/// The first handler of a TLS port. A TLS connection starts with a handshake record
/// (first byte 22); anything else is a client that forgot the `s` in `wss://` or
/// `https://`. Handed to BoringSSL, it would get a bare reset and no hint, so it is
/// answered here with a plain-text 400 that says what to use, and closed. A TLS
/// connection passes on untouched, and the handler leaves the pipeline.
final class PlaintextRequestRefuser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The content type of a TLS handshake record (RFC 8446, 5.1).
    private static let handshakeRecord: UInt8 = 22

    private static let refusal: String = {
        let body = "This port speaks TLS only: connect with wss:// or https://, not ws:// or http://\n"
        return "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
    }()

    private enum Verdict {
        case undecided
        case tls
        case plaintext
    }

    private var verdict = Verdict.undecided
    private let logger: Logger
    private let connectionID: String
    private let remote: String

    init(logger: Logger, connectionID: String, remote: String) {
        self.logger = logger
        self.connectionID = connectionID
        self.remote = remote
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch verdict {
        case .tls:
            context.fireChannelRead(data)
        case .plaintext:
            // The refusal is on its way and the connection closing; the rest is not read.
            break
        case .undecided:
            let bytes = unwrapInboundIn(data)
            guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self), first != Self.handshakeRecord else {
                verdict = .tls
                context.fireChannelRead(data)
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                return
            }
            verdict = .plaintext
            logger.info("plain request on the TLS port refused", metadata: [
                "event": "tls_plaintext_refused", "connection": "\(connectionID)", "remote": "\(remote)",
            ])
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: Self.refusal))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }
}
