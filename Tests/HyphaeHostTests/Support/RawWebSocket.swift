import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A WebSocket client that writes whatever bytes a test gives it, for the frames a
/// well-behaved client (`ProtocolClient`) cannot send: unmasked, with RSV bits, with
/// reserved opcodes, with bad close codes or bad UTF-8. It completes the upgrade,
/// then reads the server's frames from the raw byte stream.
final class RawWebSocket: Sendable {
    struct ServerFrame: Equatable {
        var opcode: UInt8
        var payload: [UInt8]

        /// The close code of a close frame.
        var closeCode: UInt16? {
            guard opcode == 0x8, payload.count >= 2 else { return nil }
            return UInt16(payload[0]) << 8 | UInt16(payload[1])
        }

        var text: String { String(decoding: payload, as: UTF8.self) }
    }

    private let channel: Channel
    private let received: ReceivedBytes

    private init(channel: Channel, received: ReceivedBytes) {
        self.channel = channel
        self.received = received
    }

    /// A TCP connection that has sent nothing yet, for tests of what comes before the upgrade.
    static func connectTCP(port: Int) async throws -> RawWebSocket {
        let received = ReceivedBytes()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ByteCollector(received: received)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawWebSocket(channel: channel, received: received)
    }

    /// Whether the server closes the connection within `timeout`.
    func isClosed(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !channel.isActive
    }

    /// Everything received so far, as text.
    var receivedText: String { received.text }

    static func connect(port: Int, path: String = "/ws") async throws -> RawWebSocket {
        let socket = try await connectTCP(port: port)
        try await socket.write(Array((
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        let head = try await socket.received.takeHead(timeout: .seconds(5))
        guard head.hasPrefix("HTTP/1.1 101") else {
            throw RawWebSocketError(description: "the upgrade was refused: \(head)")
        }
        return socket
    }

    func write(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// Queues `bytes` without waiting for the peer to take them, for a client that
    /// writes more than the peer reads.
    func writeWithoutWaiting(_ bytes: [UInt8]) {
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    /// Whether the socket takes more bytes now (false once the peer stops reading).
    var isWritable: Bool { channel.isWritable }

    /// Stops or restarts reading from the socket: a client that does not read leaves
    /// the server's bytes in the kernel's buffers and then in the server's.
    func setReading(_ reading: Bool) async throws {
        try await channel.setOption(.autoRead, value: reading).get()
        if reading { channel.read() }
    }

    /// A frame as a client would send it, but with every bit chosen by the test:
    /// `firstByte` holds FIN, the RSV bits and the opcode.
    static func frame(firstByte: UInt8, payload: [UInt8], masked: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [firstByte]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            bytes.append(maskBit | UInt8(payload.count))
        } else {
            bytes.append(maskBit | 126)
            bytes.append(UInt8(payload.count >> 8))
            bytes.append(UInt8(payload.count & 0xFF))
        }
        guard masked else { return bytes + payload }
        let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        bytes += key
        for (index, byte) in payload.enumerated() { bytes.append(byte ^ key[index % 4]) }
        return bytes
    }

    /// A masked final text frame.
    static func text(_ text: String) -> [UInt8] {
        frame(firstByte: 0x81, payload: Array(text.utf8))
    }

    /// The next frame the server sends.
    func nextFrame(timeout: Duration = .seconds(5)) async throws -> ServerFrame {
        try await received.takeFrame(timeout: timeout)
    }

    /// Reads until a close frame arrives and returns its code; text frames before it are skipped.
    func closeCode(timeout: Duration = .seconds(5)) async throws -> UInt16? {
        while true {
            let frame = try await nextFrame(timeout: timeout)
            if frame.opcode == 0x8 { return frame.closeCode }
        }
    }

    func disconnect() async {
        try? await channel.close().get()
    }

    /// Leaves as a crashed client or a dropped NAT mapping does: with a TCP reset (a
    /// zero linger), no close frame and no FIN.
    func reset() async throws {
        guard let socket = channel as? SocketOptionProvider else {
            throw RawWebSocketError(description: "the client's channel cannot set SO_LINGER")
        }
        try await socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        try? await channel.close().get()
    }
}

struct RawWebSocketError: Error, CustomStringConvertible {
    var description: String
}

/// The bytes received so far, parsed on demand.
private final class ReceivedBytes: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    func append(_ more: [UInt8]) {
        bytes.withLock { $0 += more }
    }

    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }

    func takeHead(timeout: Duration) async throws -> String {
        try await poll(timeout: timeout, what: "the HTTP response head") { bytes in
            let terminator: [UInt8] = Array("\r\n\r\n".utf8)
            guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == terminator }) else { return nil }
            let head = String(decoding: bytes[..<end], as: UTF8.self)
            bytes.removeFirst(end + 4)
            return head
        }
    }

    func takeFrame(timeout: Duration) async throws -> RawWebSocket.ServerFrame {
        try await poll(timeout: timeout, what: "a frame") { bytes in
            guard bytes.count >= 2 else { return nil }
            var length = Int(bytes[1] & 0x7F)
            var offset = 2
            if length == 126 {
                guard bytes.count >= 4 else { return nil }
                length = Int(bytes[2]) << 8 | Int(bytes[3])
                offset = 4
            } else if length == 127 {
                guard bytes.count >= 10 else { return nil }
                length = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
                offset = 10
            }
            guard bytes.count >= offset + length else { return nil }
            let frame = RawWebSocket.ServerFrame(opcode: bytes[0] & 0x0F, payload: Array(bytes[offset..<offset + length]))
            bytes.removeFirst(offset + length)
            return frame
        }
    }

    private func poll<T>(timeout: Duration, what: String, _ take: (inout [UInt8]) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = bytes.withLock({ take(&$0) }) { return value }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw RawWebSocketError(description: "no \(what) within \(timeout)")
    }
}

private final class ByteCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let received: ReceivedBytes

    init(received: ReceivedBytes) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        received.append(Array(buffer.readableBytesView))
    }
}
