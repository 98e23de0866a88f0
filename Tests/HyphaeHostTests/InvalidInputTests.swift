import HyphaeClient
import HyphaeCore
import XCTest

/// PROTOCOL.md, anything else, and the limits: bad input gets its documented
/// answer, and neither the connection (where it stays) nor any other one suffers.
final class InvalidInputTests: XCTestCase {
    /// A second client subscribed to an endless stream, which must keep receiving.
    private func bystander(on host: RunningHost) async throws -> ProtocolClient {
        let client = try await host.connect("/ws/ticker")
        try await client.subscribeSucceeding("bystander", params: ["rate": 100])
        return client
    }

    private func assertStillReceiving(_ bystander: ProtocolClient, file: StaticString = #filePath, line: UInt = #line) async throws {
        let frames = try await bystander.frames("bystander", count: 2)
        XCTAssertEqual(frames.count, 2, file: file, line: line)
    }

    func testInvalidJSONNonObjectsAndMissingTypeAreInvalidMessages() async throws {
        try await withHost { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            let bad = ["{", "{\"type\": \"init\"", "not json", "[1, 2]", "42", "\"init\"", "null", "{}", "{\"payload\": {}}", "{\"type\": 5}", "{\"type\": null}", ""]
            for text in bad {
                try await client.sendText(text)
                let reply = try await client.nextReply()
                XCTAssertEqual(reply.type, "error", "for \(text)")
                XCTAssertEqual(reply.errorCode, "INVALID_MESSAGE", "for \(text): \(reply.text)")
                XCTAssertFalse(reply.errorMessage.isEmpty)
                XCTAssertNotNil(reply.payload["timestamp"]?.numberValue)
                XCTAssertNotNil(reply["timestamp"]?.numberValue)
                // Valid messages in between reset the count, so this never closes.
                try await client.assertAlive("'\(text)'")
            }
            try await assertStillReceiving(watcher)
        }
    }

    /// Objects build in linear time up to a cap of members, nesting has a cap, and a long
    /// unknown type gets no "did you mean" (whose cost grows with the input).
    func testMessagesPastTheParsingCapsAreInvalidAndTheHostServesOn() async throws {
        try await withHost(configure: { $0.maxFrameSize = 1 << 20 }) { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            let members = (0..<10_001).map { "\"m\($0)\":0" }.joined(separator: ",")
            try await client.sendText("{\"type\":\"pong\",\(members)}")
            let wide = try await client.nextReply()
            XCTAssertEqual(wide.errorCode, "INVALID_MESSAGE", wide.text)
            XCTAssertTrue(wide.errorMessage.contains("10000"), wide.errorMessage)
            let allowed = (0..<9_999).map { "\"m\($0)\":0" }.joined(separator: ",")
            try await client.sendText("{\"type\":\"pong\",\(allowed)}")
            try await client.assertAlive("10,000 members are allowed")

            try await client.sendText("{\"type\":\"pong\",\"deep\":" + String(repeating: "[", count: 65) + String(repeating: "]", count: 65) + "}")
            let deep = try await client.nextReply()
            XCTAssertEqual(deep.errorCode, "INVALID_MESSAGE", deep.text)

            try await client.send(type: String(repeating: "subscribe", count: 2_000))
            let long = try await client.expectFailure("error", code: "UNKNOWN_MESSAGE_TYPE")
            XCTAssertFalse(long.errorMessage.contains("did you mean"), long.errorMessage)
            XCTAssertLessThan(long.text.utf8.count, 600, "the reply does not echo the type: \(long.text.prefix(200))")
            try await client.assertAlive("after the caps")
            try await assertStillReceiving(watcher)
        }
    }

    func testUnknownTypeIsUnknownMessageType() async throws {
        try await withHost { host in
            let client = try await host.connect()
            try await client.send(type: "subscrbe", payload: ["stream_id": "x"])
            let reply = try await client.expectFailure("error", code: "UNKNOWN_MESSAGE_TYPE")
            XCTAssertTrue(reply.errorMessage.contains("subscrbe"), reply.errorMessage)
            XCTAssertTrue(reply.errorMessage.contains("subscribe"), "suggests the right one: \(reply.errorMessage)")
            try await client.send(type: "heartbeat")
            try await client.expectFailure("error", code: "UNKNOWN_MESSAGE_TYPE")
            try await client.assertAlive("unknown types")
        }
    }

    func testTheTenthInvalidMessageInARowClosesWith1008() async throws {
        try await withHost { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            for index in 1...9 {
                try await client.sendText(index.isMultiple(of: 2) ? "{\"type\":\"nope\"}" : "garbage")
                try await assertEqual(await client.nextReply().type, "error", "message \(index)")
            }
            try await client.sendText("garbage")
            let before = try await client.expectClose(code: 1008)
            XCTAssertEqual(before.map(\.errorCode), ["INVALID_MESSAGE"], "the tenth gets its error, then the close")
            try await assertStillReceiving(watcher)
        }
    }

    func testAValidMessageResetsTheInvalidCount() async throws {
        try await withHost { host in
            let client = try await host.connect()
            for round in 1...3 {
                for _ in 1...9 {
                    try await client.sendText("garbage")
                    try await assertEqual(await client.nextReply().errorCode, "INVALID_MESSAGE")
                }
                try await client.send(type: "pong")
                _ = round
            }
            try await client.assertAlive("27 invalid messages in rounds of 9")
        }
    }

    func testBinaryFramesAreInvalidMessages() async throws {
        try await withHost { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            try await client.sendFrame(opcode: .binary, bytes: Array("{\"type\":\"init\"}".utf8))
            let reply = try await client.expectFailure("error", code: "INVALID_MESSAGE")
            XCTAssertTrue(reply.errorMessage.contains("binary"), reply.errorMessage)
            try await client.sendFrame(opcode: .binary, bytes: [0, 1, 2, 255])
            try await client.expectFailure("error", code: "INVALID_MESSAGE")
            try await client.assertAlive("binary frames")
            try await assertStillReceiving(watcher)
        }
    }

    func testAFrameOverTheSizeLimitClosesWith1009() async throws {
        try await withHost { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            // Just under the limit is fine (an unknown field is ignored).
            let padding = String(repeating: "a", count: host.configuration.maxFrameSize - 100)
            try await client.sendText("{\"type\":\"init\",\"padding\":\"\(padding)\"}")
            try await assertEqual(await client.nextReply().type, "init")
            let oversized = String(repeating: "b", count: host.configuration.maxFrameSize + 1)
            try await client.sendText("{\"type\":\"init\",\"padding\":\"\(oversized)\"}")
            try await client.expectClose(code: 1009)
            try await assertStillReceiving(watcher)
            let fresh = try await host.connect()
            try await fresh.assertAlive("another connection's oversized frame")
        }
    }

    /// Every field of every client message, given a value of the wrong type.
    func testWrongTypesInEveryFieldGetTheirDocumentedAnswer() async throws {
        // Four malformed auths below: more than the default limit of failed attempts.
        try await withHost(configure: { $0.maxAuthAttempts = 10 }) { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            let now = WallClock.nowMilliseconds()
            // (message, expected reply type, expected error_code or nil)
            let cases: [(JSONObject, String, String?)] = [
                (["type": 5], "error", "INVALID_MESSAGE"),
                (["type": ["init"]], "error", "INVALID_MESSAGE"),
                (["type": "init", "payload": 5], "init", nil),
                (["type": "init", "payload": ["protocol_version": true]], "error", "INIT_FAILED"),
                (["type": "init", "payload": ["protocol_version": ["1.0"]]], "error", "INIT_FAILED"),
                (["type": "init", "payload": ["protocol_version": 1]], "init", nil),
                (["type": "init", "payload": ["protocol_version": "1.0", "client_info": ["nested": true]]], "init", nil),
                (["type": "init", "stream_id": 9, "timestamp": "soon"], "init", nil),
                (["type": "auth", "payload": 5], "auth_failed", "AUTH_ERROR"),
                (["type": "auth", "payload": ["api_key": 5, "timestamp": .double(now)]], "auth_failed", "AUTH_ERROR"),
                (["type": "auth", "payload": ["api_key": "k", "timestamp": "now"]], "auth_failed", "AUTH_ERROR"),
                (["type": "auth", "payload": ["api_key": "k", "timestamp": .double(now), "signature": false]], "auth_failed", "AUTH_ERROR"),
                (["type": "subscribe", "payload": 5], "subscribe_failed", "SUBSCRIBE_ERROR"),
                (["type": "subscribe", "payload": ["stream_id": 5, "stream_type": "ticker"]], "subscribe_failed", "SUBSCRIBE_ERROR"),
                (["type": "subscribe", "payload": ["stream_id": "w", "stream_type": true]], "subscribe_failed", "SUBSCRIBE_ERROR"),
                (["type": "subscribe", "payload": ["stream_id": "w", "stream_type": "ticker", "params": "rate=5"]], "subscribe_failed", "SUBSCRIBE_ERROR"),
                (["type": "subscribe", "payload": ["stream_id": "w", "stream_type": "ticker", "params": ["rate": [5]]]], "subscribe_failed", "SUBSCRIBE_ERROR"),
                (["type": "subscribe", "payload": ["stream_id": "w", "stream_type": "ticker", "params": ["label": 5]]], "subscribe_failed", "SUBSCRIBE_ERROR"),
                (["type": "subscribe", "payload": ["stream_id": "w", "stream_type": "ticker", "params": ["payload_bytes": "big"]]], "subscribe_failed", "SUBSCRIBE_ERROR"),
                (["type": "unsubscribe"], "error", "INVALID_MESSAGE"),
                (["type": "unsubscribe", "payload": 5], "error", "INVALID_MESSAGE"),
                (["type": "unsubscribe", "payload": ["stream_id": 5]], "error", "INVALID_MESSAGE"),
            ]
            for (message, replyType, code) in cases {
                try await client.send(.object(message))
                let reply = try await client.nextReply()
                XCTAssertEqual(reply.type, replyType, "for \(message.text): \(reply.text)")
                XCTAssertEqual(reply.errorCode, code, "for \(message.text): \(reply.text)")
            }
            // pong with any payload is answered with nothing; close with any payload closes.
            try await client.send(.object(["type": "pong", "payload": 5]))
            try await client.send(.object(["type": "pong", "payload": ["x": [1]]]))
            try await client.assertAlive("wrong types in every field")
            try await client.send(.object(["type": "close", "payload": 5]))
            try await client.expectClose(code: 1000)
            try await assertStillReceiving(watcher)
        }
    }

    func testAFloodOfSubscribeAndUnsubscribeLeavesTheHostHealthy() async throws {
        // The flood is 600 messages at once: above the default message rate (LimitsTests
        // covers that limit), so this host allows it, to see the instances come and go.
        try await withHost(configure: { $0.limits.maxMessagesPerSecond = 10_000 }) { host in
            let watcher = try await bystander(on: host)
            let client = try await host.connect()
            let rounds = 300
            for round in 0..<rounds {
                let id = "flood-\(round)"
                try await client.send(type: "subscribe", payload: [
                    "stream_id": .string(id), "stream_type": "ticker", "params": ["rate": .double(Double(100 + round % 7))],
                ])
                try await client.send(type: "unsubscribe", payload: ["stream_id": .string(id)])
            }
            var successes = 0
            var acks = 0
            while acks < rounds {
                let message = try await client.nextReply()
                switch message.type {
                case "subscribe_success": successes += 1
                case "unsubscribe": acks += 1
                case "tick": continue
                default: XCTFail("unexpected during the flood: \(message.text)")
                }
            }
            XCTAssertEqual(successes, rounds)
            try await assertStillReceiving(watcher)
            try await host.waitForPipelineStatus("ticker", what: "the flood's instances to stop") {
                $0["subscribers"]?.intValue == 1 && $0["instances"]?.arrayValue?.count == 1
            }
            let health = try await host.get("/health")
            XCTAssertEqual(health.status, 200)
            try await client.assertAlive("the flood")
            try await client.subscribeSucceeding("after-flood", to: "finite")
            let (frames, _) = try await client.framesUntilStreamEnd("after-flood")
            XCTAssertEqual(frames.count, 5)
        }
    }
}
