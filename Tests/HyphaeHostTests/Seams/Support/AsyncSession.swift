import HyphaeCore
@testable import HyphaeHost
import NIOCore
import NIOEmbedded
import NIOWebSocket
import XCTest

/// A `ProtocolSession` on an `NIOAsyncTestingChannel`, for conversations that start a
/// pipeline. A run publishes its frames to the channel's loop from its own task, which
/// an `EmbeddedEventLoop` does not allow; this loop takes work from any thread, runs it
/// in order, and lets the test wait for what the session writes.
struct AsyncSession {
    let host: HostContext
    let channel: NIOAsyncTestingChannel

    static func start(configure: (inout HostConfiguration) -> Void = { _ in }) async throws -> AsyncSession {
        let host = try SeamHost.context(configure: configure)
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(HeadWriter())
            try channel.pipeline.syncOperations.addHandler(
                ProtocolSession(host: host, endpoint: .anyPipeline, remoteAddress: "192.0.2.8:50000", connectionID: "c2"))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "192.0.2.8", port: 50000)).get()
        return AsyncSession(host: host, channel: channel)
    }

    /// A protocol message: `{"type": type, "payload": payload}` in a text frame.
    func send(type: String, payload: JSONObject) async throws {
        let text = JSONValue.object(["type": .string(type), "payload": .object(payload)]).jsonText
        try await channel.writeInbound(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text)))
    }

    /// The next frame the session writes. The deadline only turns a missing frame into a
    /// failure instead of a hung test; a passing test never waits for it.
    func next(within deadline: Duration = .seconds(10)) async throws -> ServerFrame {
        let channel = self.channel
        let buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await channel.waitForOutboundWrite(as: ByteBuffer.self) }
            group.addTask {
                try await Task.sleep(for: deadline)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            // Closing wakes the read still waiting, if the deadline came first.
            if first == nil { try? await channel.close() }
            return first
        }
        guard let buffer else { throw ServerFrameError(description: "nothing written within \(deadline)") }
        return try ServerFrame(decoding: buffer)
    }

    /// The next protocol message, passing over the data frames of running streams: a
    /// reply is written at once, but the frames of a running pipeline may come before it.
    func nextReply() async throws -> ServerFrame {
        while true {
            let frame = try await next()
            if !frame.isDataFrame { return frame }
        }
    }

    /// Closes the connection, which ends its subscriptions and stops their runs.
    func finish() async throws {
        _ = try await channel.finish(acceptAlreadyClosed: true)
    }
}
