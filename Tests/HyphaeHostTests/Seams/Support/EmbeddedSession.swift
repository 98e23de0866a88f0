import HyphaeCore
@testable import HyphaeHost
import NIOCore
import NIOEmbedded
import NIOWebSocket
import XCTest

/// A `ProtocolSession` on an `EmbeddedChannel`, behind a `HeadWriter` as the server
/// sets up an upgraded connection. The frame aggregator is left out: the tests hand the
/// session whole frames. Time stands still until a test advances the loop's clock.
///
/// Only for conversations that start no pipeline: a run publishes from its own task,
/// and an `EmbeddedEventLoop` may be touched only from the thread that made it (see
/// `AsyncSession` for the subscriptions that do start one).
final class EmbeddedSession {
    let host: HostContext
    let channel: EmbeddedChannel

    var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

    init(endpoint: Endpoint = .anyPipeline, configure: (inout HostConfiguration) -> Void = { _ in }) throws {
        host = try SeamHost.context(configure: configure)
        let session = ProtocolSession(host: host, endpoint: endpoint, remoteAddress: "192.0.2.7:50000", connectionID: "c1")
        channel = EmbeddedChannel(handlers: [HeadWriter(), session])
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: 50000)).wait()
    }

    /// A text frame holding `text`, as a client sends it.
    func sendText(_ text: String) throws {
        try sendFrame(.text, Array(text.utf8))
    }

    /// A protocol message: `{"type": type, "payload": payload}`.
    func send(type: String, payload: JSONObject? = nil) throws {
        var message: JSONObject = ["type": .string(type)]
        if let payload { message.append("payload", .object(payload)) }
        try sendText(JSONValue.object(message).jsonText)
    }

    func sendFrame(_ opcode: WebSocketOpcode, _ bytes: [UInt8]) throws {
        try channel.writeInbound(WebSocketFrame(fin: true, opcode: opcode, data: channel.allocator.buffer(bytes: bytes)))
    }

    /// Every frame the session has written and flushed since the last call, oldest first.
    func written() throws -> [ServerFrame] {
        var frames: [ServerFrame] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            frames.append(try ServerFrame(decoding: buffer))
        }
        return frames
    }

    /// The one frame the session wrote (and flushed) in answer to what was just sent.
    func reply(file: StaticString = #filePath, line: UInt = #line) throws -> ServerFrame? {
        let frames = try written()
        XCTAssertEqual(frames.count, 1, "expected one reply, found \(frames)", file: file, line: line)
        return frames.first
    }

    /// Closes the channel as a vanished peer would, unless the session already has.
    func finish() throws {
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}

/// Runs `body` on a fresh session and finishes it afterwards; fails if the session
/// wrote anything that `body` did not read, so that no reply goes unchecked.
func withEmbeddedSession(
    endpoint: Endpoint = .anyPipeline,
    configure: (inout HostConfiguration) -> Void = { _ in },
    file: StaticString = #filePath, line: UInt = #line,
    _ body: (EmbeddedSession) throws -> Void
) throws {
    let session = try EmbeddedSession(endpoint: endpoint, configure: configure)
    defer { XCTAssertNoThrow(try session.finish(), file: file, line: line) }
    try body(session)
    XCTAssertEqual(try session.written(), [], "frames the test did not read", file: file, line: line)
}
