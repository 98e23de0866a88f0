import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeTesting
import XCTest

/// `direct_writes` (on by default): a plain listener accepts on its own thread and each
/// connection's frames go to its socket with send/writev, NIO taking only what the kernel
/// did not. Every other live test runs on this path too; these check what is particular
/// to it against a real host, on both write paths: order across hand-offs to NIO and
/// back, the hand-off counter, IPv6, and the listener's life.
final class DirectWritesTests: XCTestCase {
    /// 400 frames of 20 kB, as fast as the loops take them: about twice what the loopback
    /// socket buffers hold (BackpressureTests), so that a client that pauses fills its socket.
    private static let frameCount = 400
    private static let params: JSONObject = ["count": .int(frameCount), "rate": 0, "payload_bytes": 20_000]
    private static let pipelines = ["bp": PipelineFixtures.backpressure(name: "bp", policy: "block", queueSize: 8, sharing: "per_subscriber")]

    /// A client that stops and starts reading again and again gets every frame once, in
    /// order, while the host hands its socket's overflow to NIO and takes it back.
    private func checkPausingReaderGetsEveryFrameInOrder(directWrites: Bool) async throws {
        try await withHost(pipelines: Self.pipelines, configure: { $0.directWrites = directWrites }) { host in
            let pausing = try await host.connect("/ws/bp")
            try await pausing.subscribeSucceeding("pausing", params: Self.params)
            let steady = try await host.connect("/ws/bp_roomy")
            try await steady.subscribeSucceeding("steady", params: Self.params)
            // The first pause lasts until the block queue is full: by then the socket was full
            // and, on the direct path, a write was handed to NIO. Short pauses follow.
            try await pausing.setReading(false)
            try await host.waitForMetric(#"hyphae_queue_depth{pipeline="bp"}"#, atLeast: 8)
            try await pausing.setReading(true)
            for _ in 0..<4 {
                try await pausing.setReading(false)
                try await Task.sleep(for: .milliseconds(60))
                try await pausing.setReading(true)
                try await Task.sleep(for: .milliseconds(15))
            }
            for (client, streamID) in [(pausing, "pausing"), (steady, "steady")] {
                let (frames, end) = try await client.framesUntilStreamEnd(streamID, timeout: .seconds(30))
                XCTAssertEqual(frames.compactMap(\.sequence), Array(0..<Self.frameCount), "\(streamID): every frame once, in order")
                XCTAssertEqual(end.payload["reason"], "complete")
                XCTAssertEqual(end.int("dropped_frames"), 0)
            }
            let handoffs = try await Self.handoffs(host)
            if directWrites {
                XCTAssertGreaterThan(handoffs, 0, "a paused reader's full socket made the host hand writes to NIO")
            } else {
                XCTAssertEqual(handoffs, 0, "with direct_writes off nothing is written directly")
            }
        }
    }

    func testAPausingReaderGetsEveryFrameInOrderOnTheDirectPath() async throws {
        try await checkPausingReaderGetsEveryFrameInOrder(directWrites: true)
    }

    func testAPausingReaderGetsEveryFrameInOrderThroughNIO() async throws {
        try await checkPausingReaderGetsEveryFrameInOrder(directWrites: false)
    }

    private static func handoffs(_ host: RunningHost) async throws -> Int {
        let value = try await host.metric("hyphae_direct_write_handoffs_total")
        return try XCTUnwrap(value, "/metrics has hyphae_direct_write_handoffs_total")
    }

    /// NIO's decoder answers a control frame that breaks RFC 6455 with a close frame of
    /// its own, written through NIO: the frames streaming to that client stay whole, in
    /// order behind or before it, and the close says 1002.
    func testAProtocolErrorFromTheDecoderMidStreamClosesWith1002AndFramesStayWhole() async throws {
        try await withHost { host in
            let socket = try await RawWebSocket.connect(port: host.port, path: "/ws/ticker")
            try await socket.write(RawWebSocket.text(#"{"type":"subscribe","payload":{"stream_id":"fast","params":{"rate":1000,"payload_bytes":2000}}}"#))
            var textFrames = 0
            while textFrames < 50 {
                let frame = try await socket.nextFrame()
                XCTAssertEqual(frame.opcode, 0x1, "a text frame")
                textFrames += 1
            }
            // A ping that is not final: control frames may not be fragmented.
            try await socket.write(RawWebSocket.frame(firstByte: 0x09, payload: []))
            while true {
                let frame = try await socket.nextFrame(timeout: .seconds(10))
                if frame.opcode == 0x8 {
                    XCTAssertEqual(frame.closeCode, 1002, "the decoder's close")
                    break
                }
                XCTAssertEqual(frame.opcode, 0x1, "only whole text frames before the close")
                XCTAssertNotNil(try? JSONParser.parse(String(decoding: frame.payload, as: UTF8.self)).objectValue, "a whole JSON message")
            }
            await socket.disconnect()
        }
    }

    func testAHostOnIPv6LoopbackServesStreams() async throws {
        try await withHost(configure: { $0.host = "::1" }) { host in
            let client = try await ProtocolClient.connect(host: "::1", port: host.port, path: "/ws")
            try await client.subscribeSucceeding("v6", to: "ticker")
            let frame = try await client.nextMessage(timeout: .seconds(10))
            XCTAssertEqual(frame.streamID, "v6")
            await client.disconnect()
        }
    }

    func testWaitUntilClosedReturnsOnceTheHostShutsDown() async throws {
        for directWrites in [true, false] {
            let folder = try TemporaryFolder()
            let host = try await RunningHost.start(pipelines: PipelineFixtures.standard, folder: folder) { $0.directWrites = directWrites }
            let closed = Task { try await host.server.waitUntilClosed() }
            let client = try await host.connect()
            try await client.subscribeSucceeding("s", to: "ticker")
            await host.stop()
            try await closed.value
            let refused = try? await ProtocolClient.connect(host: "127.0.0.1", port: host.port, path: "/ws")
            XCTAssertNil(refused, "direct_writes \(directWrites): nothing listens after shutdown")
            await refused?.disconnect()
        }
    }
}
