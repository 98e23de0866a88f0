import Logging
import NIOCore
import NIOTLS

/// Sits just after the TLS handler until the handshake is done, to log why a handshake
/// failed: a client that does not trust the certificate, one that offers only TLS 1.1,
/// one that hangs up halfway. Without it NIOSSL's error would end at the tail
/// of the pipeline, unseen, and the operator would hear of it only from the client.
final class TLSHandshakeLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let logger: Logger
    private let connectionID: String
    private let remote: String

    init(logger: Logger, connectionID: String, remote: String) {
        self.logger = logger
        self.connectionID = connectionID
        self.remote = remote
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.info("TLS handshake failed", metadata: [
            "event": "tls_handshake_failed", "connection": "\(connectionID)", "remote": "\(remote)", "error": "\(error)",
        ])
        context.fireErrorCaught(error)
    }
}
