import HyphaeClient
import HyphaeCore
import HyphaeHost
import XCTest

/// PROTOCOL.md, Conversation and Client messages: each client message and its reply.
final class ConversationTests: XCTestCase {
    func testInitRepliesWithVersionServerAuthAndHeartbeatSettings() async throws {
        try await withHost(configure: {
            $0.heartbeatInterval = 12
            $0.heartbeatTimeout = 34
        }) { host in
            let client = try await host.connect()
            let reply = try await client.sendInit()
            XCTAssertEqual(reply.type, "init")
            XCTAssertNotNil(reply["timestamp"]?.numberValue)
            XCTAssertEqual(reply.payload["protocol_version"], "1.0")
            XCTAssertEqual(reply.payload["server"]?.stringValue, "hyphae/\(HyphaeServer.version)")
            XCTAssertEqual(reply.payload["auth_required"], false)
            XCTAssertEqual(reply.payload["heartbeat_interval_ms"]?.intValue, 12_000)
            XCTAssertEqual(reply.payload["heartbeat_timeout_ms"]?.intValue, 34_000)
        }
    }

    func testInitReportsAuthRequiredWhereKeysAreConfigured() async throws {
        try await withHost(configure: { $0.apiKeys = [APIKey(secret: "secret-one")] }) { host in
            let client = try await host.connect()
            let reply = try await client.sendInit()
            XCTAssertEqual(reply.payload["auth_required"], true)
        }
    }

    func testInitWithAnotherMajorVersionFailsAndTheConnectionStays() async throws {
        try await withHost { host in
            let client = try await host.connect()
            let reply = try await client.sendInit(version: "2.0")
            XCTAssertEqual(reply.type, "error")
            XCTAssertEqual(reply.errorCode, "INIT_FAILED")
            XCTAssertTrue(reply.errorMessage.contains("2.0"), reply.errorMessage)
            XCTAssertNotNil(reply["timestamp"]?.numberValue, "error carries timestamp in the envelope")
            XCTAssertNotNil(reply.payload["timestamp"]?.numberValue, "error carries timestamp in the payload")
            // A minor version of 1 is fine.
            let accepted = try await client.sendInit(version: "1.7")
            XCTAssertEqual(accepted.type, "init")
        }
    }

    func testInitIsOptional() async throws {
        try await withHost { host in
            let client = try await host.connect("/ws/ticker")
            try await client.subscribeSucceeding("no-init")
            let frame = try await client.frames("no-init", count: 1)[0]
            XCTAssertEqual(frame.type, "tick")
        }
    }

    func testSubscribeSuccessCarriesTypeResolvedParamsAndVersionThenFrames() async throws {
        try await withHost { host in
            let client = try await host.connect()
            let reply = try await client.subscribeSucceeding("s1", to: "ticker", params: ["rate": 100])
            XCTAssertEqual(reply.streamID, "s1")
            XCTAssertNotNil(reply["timestamp"]?.numberValue)
            XCTAssertEqual(reply.payload["stream_type"], "ticker")
            let params = try XCTUnwrap(reply.payload["params"]?.objectValue)
            XCTAssertEqual(params["rate"]?.numberValue, 100)
            XCTAssertEqual(params["payload_bytes"]?.intValue, 0, "defaults are filled in")
            XCTAssertEqual(params["label"], "plain")
            let status = try await host.pipelineStatus("ticker")
            XCTAssertEqual(reply.payload["pipeline_version"], status["version"])
            XCTAssertFalse(reply.payload["pipeline_version"]?.stringValue?.isEmpty ?? true)

            let frames = try await client.frames("s1", count: 3)
            for frame in frames {
                XCTAssertEqual(frame.type, "tick")
                XCTAssertEqual(frame.streamID, "s1", "the envelope names the stream")
                XCTAssertEqual(frame.payload["stream_id"], "s1", "the payload names the stream")
                XCTAssertNotNil(frame["timestamp"]?.numberValue)
                XCTAssertNotNil(frame.payload["timestamp"]?.numberValue)
                XCTAssertNotNil(frame.payload["count"]?.intValue, "the stage's own fields")
            }
            XCTAssertEqual(try missingSequences(frames.compactMap(\.sequence)), 0, "sequence rises by one per frame")
        }
    }

    func testStreamTypeMayBeLeftOutOnAPipelinesOwnPath() async throws {
        try await withHost { host in
            let client = try await host.connect("/ws/finite")
            let reply = try await client.subscribeSucceeding("own-path")
            XCTAssertEqual(reply.payload["stream_type"], "finite")
            let (frames, end) = try await client.framesUntilStreamEnd("own-path")
            XCTAssertEqual(frames.count, 5)
            XCTAssertEqual(end.payload["reason"], "complete")
        }
    }

    func testUnsubscribeAcknowledgesWithCounters() async throws {
        try await withHost { host in
            let client = try await host.connect()
            try await client.subscribeSucceeding("u1", to: "ticker", params: ["rate": 200])
            let received = try await client.frames("u1", count: 3)
            let ack = try await client.unsubscribe("u1")
            XCTAssertEqual(ack.type, "unsubscribe")
            XCTAssertEqual(ack.streamID, "u1")
            XCTAssertNotNil(ack["timestamp"]?.numberValue)
            let sent = try XCTUnwrap(ack.int("packets_sent"))
            XCTAssertGreaterThanOrEqual(sent, received.count)
            XCTAssertEqual(ack.int("dropped_frames"), 0)
            let duration = try XCTUnwrap(ack.payload["duration_s"]?.numberValue)
            XCTAssertGreaterThan(duration, 0)
            XCTAssertLessThan(duration, 60)
            // The id is free again, and no frame of the old subscription follows the ack.
            try await client.subscribeSucceeding("u1", to: "finite")
            let (frames, _) = try await client.framesUntilStreamEnd("u1")
            XCTAssertEqual(frames.first?.type, "tick")
            XCTAssertEqual(frames.first?.sequence, 0, "the new subscription starts its own run")
        }
    }

    func testUnsubscribeFromAnUnknownIDIsAnError() async throws {
        try await withHost { host in
            let client = try await host.connect()
            try await client.subscribeSucceeding("known", to: "ticker")
            let reply = try await client.unsubscribe("nope")
            XCTAssertEqual(reply.type, "error")
            XCTAssertEqual(reply.errorCode, "UNKNOWN_STREAM_ID")
            XCTAssertEqual(reply.streamID, "nope")
            XCTAssertTrue(reply.errorMessage.contains("nope"), reply.errorMessage)
            XCTAssertFalse(reply.errorMessage.contains("known"), "the reply does not grow with the ids the client chose: \(reply.errorMessage)")
            XCTAssertTrue(reply.errorMessage.contains("holds 1 subscription"), reply.errorMessage)
            try await client.assertAlive("an unknown stream id")
        }
    }

    func testPongGetsNoReplyAndKeepsTheConnection() async throws {
        try await withHost { host in
            let client = try await host.connect()
            try await client.send(type: "pong")
            try await client.send(type: "pong", payload: ["anything": [1, 2, 3]])
            // The next reply is the init's: pong was answered with nothing.
            let reply = try await client.sendInit()
            XCTAssertEqual(reply.type, "init")
        }
    }

    func testCloseEndsSubscriptionsAndClosesWith1000() async throws {
        try await withHost { host in
            let client = try await host.connect()
            try await client.subscribeSucceeding("c1", to: "ticker")
            try await client.subscribeSucceeding("c2", to: "ticker", params: ["rate": 30])
            try await host.waitForPipelineStatus("ticker", what: "two subscribers") { $0["subscribers"]?.intValue == 2 }
            try await client.send(type: "close")
            try await client.expectClose(code: 1000)
            try await host.waitForPipelineStatus("ticker", what: "the subscriptions to end and instances to stop") {
                $0["subscribers"]?.intValue == 0 && $0["instances"]?.arrayValue?.isEmpty == true
            }
        }
    }

    func testHeartbeatsArriveAtTheConfiguredInterval() async throws {
        try await withHost(configure: {
            $0.heartbeatInterval = 0.2
            $0.heartbeatTimeout = 30
        }) { host in
            let client = try await host.connect()
            var stamps: [Double] = []
            while stamps.count < 4 {
                let message = try await client.nextMessage(timeout: .seconds(10), skippingHeartbeats: false)
                XCTAssertEqual(message.type, "heartbeat")
                XCTAssertNil(message["payload"])
                stamps.append(try XCTUnwrap(message["timestamp"]?.numberValue))
            }
            for (earlier, later) in zip(stamps, stamps.dropFirst()) {
                // Never early; late only by what a busy machine adds.
                XCTAssertGreaterThanOrEqual(later - earlier, 180, "heartbeats \(stamps)")
                XCTAssertLessThan(later - earlier, 5_000, "heartbeats \(stamps)")
            }
        }
    }

    func testSeveralSubscriptionsOnOneConnectionEachUnderItsID() async throws {
        try await withHost { host in
            let client = try await host.connect()
            try await client.subscribeSucceeding("alpha", to: "ticker", params: ["rate": 100])
            try await client.subscribeSucceeding("beta", to: "ticker", params: ["rate": 100])
            try await client.subscribeSucceeding("gamma", to: "finite", params: ["count": 3])
            var sequences: [String: [Int]] = [:]
            var gammaEnded = false
            while !gammaEnded || (sequences["alpha"]?.count ?? 0) < 5 || (sequences["beta"]?.count ?? 0) < 5 {
                let message = try await client.nextMessage()
                let id = try XCTUnwrap(message.streamID, "every message here belongs to a stream: \(message.text)")
                if message.type == "stream_end" {
                    XCTAssertEqual(id, "gamma")
                    XCTAssertEqual(message.payload["reason"], "complete")
                    gammaEnded = true
                    continue
                }
                XCTAssertEqual(message.payload["stream_id"]?.stringValue, id, "payload and envelope agree")
                sequences[id, default: []].append(try XCTUnwrap(message.sequence))
            }
            XCTAssertEqual(sequences["gamma"], [0, 1, 2])
            for id in ["alpha", "beta"] {
                XCTAssertEqual(try missingSequences(sequences[id] ?? []), 0, id)
            }
            let ack = try await client.unsubscribe("alpha")
            XCTAssertEqual(ack.type, "unsubscribe")
            // beta keeps flowing after alpha has gone.
            let more = try await client.frames("beta", count: 2)
            XCTAssertEqual(more.count, 2)
            // gamma ended by itself, so its id is no longer known.
            let gone = try await client.unsubscribe("gamma")
            XCTAssertEqual(gone.errorCode, "UNKNOWN_STREAM_ID")
        }
    }
}
