import Logging
import NIOCore

/// Moves the program's output lines into the inbox, and reads from the pipe only
/// while the inbox has room (the channel does not read by itself).
final class OutputLineHandler: ChannelInboundHandler {
    typealias InboundIn = ProgramLine

    private let inbox: LineInbox

    init(inbox: LineInbox) {
        self.inbox = inbox
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbox.push(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if inbox.wantsMore() { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.finish(.endOfOutput)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A line the host refuses ends the output. Other errors are the pipe's
        // (the program is gone) and end it as its closing does.
        if let violation = error as? ProtocolViolation {
            inbox.finish(.failed(violation))
        }
        context.close(promise: nil)
    }
}

/// Writes the program's standard error into the host's log, one record per line
/// with the pipeline's name, at most `linesPerSecond` on average (bursts of as many)
/// so that a program in a loop cannot flood the log. Lines over the limit are
/// counted, and the count is logged once lines are let through again.
final class StandardErrorLogHandler: ChannelInboundHandler {
    typealias InboundIn = ProgramLine

    static let linesPerSecond = 100.0
    static let maxLineBytes = 4096

    private let logger: Logger
    private var tokens = StandardErrorLogHandler.linesPerSecond
    private var lastRefill = NIODeadline.now()
    private var suppressed = 0

    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        refill()
        guard tokens >= 1 else {
            suppressed += 1
            return
        }
        tokens -= 1
        reportSuppressed()
        var text = String(decoding: line.bytes.readableBytesView, as: UTF8.self)
        if line.isTruncated { text += " … (cut at \(Self.maxLineBytes) bytes)" }
        logger.info("\(text)", metadata: ["event": "exec_stderr"])
    }

    func channelInactive(context: ChannelHandlerContext) {
        reportSuppressed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func refill() {
        let now = NIODeadline.now()
        let elapsed = Double((now - lastRefill).nanoseconds) / 1e9
        lastRefill = now
        tokens = min(Self.linesPerSecond, tokens + elapsed * Self.linesPerSecond)
    }

    private func reportSuppressed() {
        guard suppressed > 0 else { return }
        logger.warning(
            "\(suppressed) lines of the program's standard error were not logged (more than \(Int(Self.linesPerSecond)) a second)",
            metadata: ["event": "exec_stderr_suppressed", "lines": "\(suppressed)"])
        suppressed = 0
    }
}
