import HyphaeClient
import HyphaeCore
import XCTest

/// PROTOCOL.md, Close codes: frames that break RFC 6455 close the connection with
/// 1002, text that is not UTF-8 with 1007; a peer's close code is echoed only when a
/// peer may send it. Each test keeps a bystander subscribed, which must not notice.
final class WireStrictnessTests: XCTestCase {
    private func bystander(on host: RunningHost) async throws -> ProtocolClient {
        let client = try await host.connect("/ws/ticker")
        try await client.subscribeSucceeding("bystander", params: ["rate": 100])
        return client
    }

    private func assertStillReceiving(_ bystander: ProtocolClient, file: StaticString = #filePath, line: UInt = #line) async throws {
        let frames = try await bystander.frames("bystander", count: 2)
        XCTAssertEqual(frames.count, 2, file: file, line: line)
    }

    private func assertClosed(with code: UInt16, after bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        try await withHost { host in
            let watcher = try await bystander(on: host)
            let socket = try await RawWebSocket.connect(port: host.port)
            try await socket.write(bytes)
            let closed = try await socket.closeCode()
            XCTAssertEqual(closed, code, what, file: file, line: line)
            await socket.disconnect()
            try await assertStillReceiving(watcher, file: file, line: line)
        }
    }

    func testUnmaskedClientFramesAreProtocolErrors() async throws {
        try await assertClosed(with: 1002, after: RawWebSocket.frame(firstByte: 0x81, payload: Array(#"{"type":"init"}"#.utf8), masked: false), "unmasked text")
    }

    func testRSVBitsWithoutAnExtensionAreProtocolErrors() async throws {
        for rsv: UInt8 in [0x40, 0x20, 0x10] {
            try await assertClosed(with: 1002, after: RawWebSocket.frame(firstByte: 0x80 | rsv | 0x1, payload: Array(#"{"type":"init"}"#.utf8)), "RSV bit \(rsv)")
        }
    }

    func testReservedOpcodesAreProtocolErrors() async throws {
        for opcode: UInt8 in [0x3, 0x7, 0xB, 0xF] {
            try await assertClosed(with: 1002, after: RawWebSocket.frame(firstByte: 0x80 | opcode, payload: []), "opcode \(opcode)")
        }
    }

    func testBadContinuationSequencesAreProtocolErrors() async throws {
        // A continuation with nothing to continue.
        try await assertClosed(with: 1002, after: RawWebSocket.frame(firstByte: 0x80, payload: Array("x".utf8)), "lone continuation")
        // A new text message before the fragmented one is finished.
        let first = RawWebSocket.frame(firstByte: 0x01, payload: Array(#"{"type":"#.utf8))
        let interloper = RawWebSocket.frame(firstByte: 0x81, payload: Array(#"{"type":"pong"}"#.utf8))
        try await assertClosed(with: 1002, after: first + interloper, "text inside a fragmented text")
    }

    func testTextThatIsNotUTF8ClosesWith1007() async throws {
        let invalid: [UInt8] = Array(#"{"type":"init","x":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        try await assertClosed(with: 1007, after: RawWebSocket.frame(firstByte: 0x81, payload: invalid), "invalid UTF-8")
    }

    func testReservedCloseCodesAreRefusedNotEchoed() async throws {
        for code: UInt16 in [999, 1004, 1005, 1006, 1015, 2999, 5000, 65535] {
            let payload = [UInt8(code >> 8), UInt8(code & 0xFF)]
            try await assertClosed(with: 1002, after: RawWebSocket.frame(firstByte: 0x88, payload: payload), "close code \(code)")
        }
        try await assertClosed(with: 1002, after: RawWebSocket.frame(firstByte: 0x88, payload: [0x03]), "one-byte close payload")
        try await assertClosed(with: 1007, after: RawWebSocket.frame(firstByte: 0x88, payload: [0x03, 0xE8, 0xFF]), "close reason not UTF-8")
    }

    func testValidCloseCodesAreEchoedAndAnEmptyCloseIsAnsweredWith1000() async throws {
        for code: UInt16 in [1000, 1001, 3000, 4999] {
            let payload = [UInt8(code >> 8), UInt8(code & 0xFF)]
            try await assertClosed(with: code, after: RawWebSocket.frame(firstByte: 0x88, payload: payload), "close code \(code)")
        }
        try await assertClosed(with: 1000, after: RawWebSocket.frame(firstByte: 0x88, payload: []), "empty close")
    }

    /// Peer codes echoed back are counted under one label, so that clients cannot add series.
    func testEchoedPeerCodesDoNotBecomeMetricLabels() async throws {
        try await withHost { host in
            for code: UInt16 in [3001, 3002, 4321] {
                let socket = try await RawWebSocket.connect(port: host.port)
                try await socket.write(RawWebSocket.frame(firstByte: 0x88, payload: [UInt8(code >> 8), UInt8(code & 0xFF)]))
                _ = try await socket.closeCode()
                await socket.disconnect()
            }
            let metrics = try await host.get("/metrics").body
            XCTAssertFalse(metrics.contains("code=\"3001\""), metrics)
            XCTAssertFalse(metrics.contains("code=\"4321\""), metrics)
            XCTAssertTrue(metrics.contains("hyphae_connection_closes_total{code=\"peer\"} 3"), metrics)
        }
    }

    /// After the first broken frame nothing more is read: a later valid message gets no reply.
    func testNothingIsEvaluatedOnceTheCloseHasBegun() async throws {
        try await withHost { host in
            let socket = try await RawWebSocket.connect(port: host.port)
            let broken = RawWebSocket.frame(firstByte: 0x83, payload: [])
            try await socket.write(broken + RawWebSocket.text(#"{"type":"init"}"#))
            let first = try await socket.nextFrame()
            XCTAssertEqual(first.closeCode, 1002, "the close comes first and alone: \(first.text)")
            await socket.disconnect()
        }
    }
}
