import HyphaeClient
import HyphaeCore
import HyphaeHost
import XCTest

/// PROTOCOL.md, subscribe: every `subscribe_failed` code.
final class SubscribeFailureTests: XCTestCase {
    private func expectRefusal(
        _ reply: JSONObject, code: String, streamID: String?, mentioning words: [String] = [],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(reply.type, "subscribe_failed", reply.text, file: file, line: line)
        XCTAssertEqual(reply.errorCode, code, reply.text, file: file, line: line)
        XCTAssertEqual(reply.streamID, streamID, reply.text, file: file, line: line)
        XCTAssertNotNil(reply["timestamp"]?.numberValue, file: file, line: line)
        XCTAssertFalse(reply.errorMessage.isEmpty, file: file, line: line)
        for word in words {
            XCTAssertTrue(reply.errorMessage.contains(word), "'\(reply.errorMessage)' should mention \(word)", file: file, line: line)
        }
    }

    func testNotAuthenticatedWhereAuthIsRequired() async throws {
        try await withHost(configure: { $0.apiKeys = [APIKey(secret: "key-one")] }) { host in
            let client = try await host.connect()
            expectRefusal(try await client.subscribe("s", to: "ticker"), code: "NOT_AUTHENTICATED", streamID: "s", mentioning: ["auth"])
            let auth = try await client.authenticate(ProtocolClient.authPayload(apiKey: "key-one", signed: false))
            XCTAssertEqual(auth.type, "auth_success")
            try await client.subscribeSucceeding("s", to: "ticker")
        }
    }

    func testMalformedPayloadsAreSubscribeErrors() async throws {
        try await withHost { host in
            let client = try await host.connect()
            try await client.send(.object(["type": "subscribe"]))
            expectRefusal(try await client.nextReply(), code: "SUBSCRIBE_ERROR", streamID: nil, mentioning: ["payload"])
            try await client.send(.object(["type": "subscribe", "payload": "ticker"]))
            expectRefusal(try await client.nextReply(), code: "SUBSCRIBE_ERROR", streamID: nil, mentioning: ["payload"])
            expectRefusal(try await client.subscribe(nil, to: "ticker"), code: "SUBSCRIBE_ERROR", streamID: nil, mentioning: ["stream_id"])
            expectRefusal(try await client.subscribe("", to: "ticker"), code: "SUBSCRIBE_ERROR", streamID: "", mentioning: ["stream_id"])
            let tooLong = String(repeating: "x", count: 129)
            expectRefusal(try await client.subscribe(tooLong, to: "ticker"), code: "SUBSCRIBE_ERROR", streamID: tooLong, mentioning: ["128"])
            try await client.subscribeSucceeding(String(repeating: "y", count: 128), to: "ticker")
            try await client.send(type: "subscribe", payload: ["stream_id": 7, "stream_type": "ticker"])
            expectRefusal(try await client.nextReply(), code: "SUBSCRIBE_ERROR", streamID: nil, mentioning: ["stream_id"])
            try await client.send(type: "subscribe", payload: ["stream_id": "t", "stream_type": 7])
            expectRefusal(try await client.nextReply(), code: "SUBSCRIBE_ERROR", streamID: "t", mentioning: ["stream_type"])
            try await client.send(type: "subscribe", payload: ["stream_id": "t", "stream_type": "ticker", "params": [1, 2]])
            expectRefusal(try await client.nextReply(), code: "SUBSCRIBE_ERROR", streamID: "t", mentioning: ["params"])
            // On /ws a stream_type is needed.
            expectRefusal(try await client.subscribe("t"), code: "SUBSCRIBE_ERROR", streamID: "t", mentioning: ["stream_type", "ticker"])
            try await client.assertAlive("malformed subscribes")
        }
    }

    func testParamsOfTheWrongTypeOutOfBoundsOrUndeclaredAreSubscribeErrors() async throws {
        try await withHost { host in
            let client = try await host.connect()
            expectRefusal(
                try await client.subscribe("p", to: "ticker", params: ["rate": "fast"]),
                code: "SUBSCRIBE_ERROR", streamID: "p", mentioning: ["rate", "fast"])
            expectRefusal(
                try await client.subscribe("p", to: "ticker", params: ["payload_bytes": 1.5]),
                code: "SUBSCRIBE_ERROR", streamID: "p", mentioning: ["payload_bytes"])
            expectRefusal(
                try await client.subscribe("p", to: "ticker", params: ["rate": 20_000]),
                code: "SUBSCRIBE_ERROR", streamID: "p", mentioning: ["rate", "10000"])
            expectRefusal(
                try await client.subscribe("p", to: "ticker", params: ["rate": 0]),
                code: "SUBSCRIBE_ERROR", streamID: "p", mentioning: ["rate"])
            expectRefusal(
                try await client.subscribe("p", to: "ticker", params: ["rat": 5]),
                code: "SUBSCRIBE_ERROR", streamID: "p", mentioning: ["rat", "rate", "payload_bytes", "label"])
            try await client.subscribeSucceeding("p", to: "ticker", params: ["rate": 10_000, "label": "edge"])
        }
    }

    func testUnknownStreamNamesWhatIsServed() async throws {
        try await withHost { host in
            let anyPipeline = try await host.connect()
            expectRefusal(
                try await anyPipeline.subscribe("u", to: "tikcer"), code: "UNKNOWN_STREAM", streamID: "u", mentioning: ["tikcer", "ticker"])
            let ownPath = try await host.connect("/ws/ticker")
            expectRefusal(
                try await ownPath.subscribe("u", to: "finite"), code: "UNKNOWN_STREAM", streamID: "u", mentioning: ["/ws/finite"])
            expectRefusal(
                try await ownPath.subscribe("u", to: "nothing_here"), code: "UNKNOWN_STREAM", streamID: "u", mentioning: ["nothing_here", "ticker"])
            // Its own name is fine on its own path.
            try await ownPath.subscribeSucceeding("u", to: "ticker")
        }
    }

    func testForbiddenForAKeyLimitedToOtherPipelines() async throws {
        try await withHost(configure: {
            $0.apiKeys = [APIKey(secret: "reader-secret", id: "ticker-reader", pipelines: ["ticker"])]
        }) { host in
            let client = try await host.connect()
            let auth = try await client.authenticate(ProtocolClient.authPayload(apiKey: "reader-secret", signed: true))
            XCTAssertEqual(auth.type, "auth_success")
            XCTAssertEqual(auth.payload["key_id"], "ticker-reader")
            expectRefusal(try await client.subscribe("f", to: "finite"), code: "FORBIDDEN", streamID: "f", mentioning: ["finite"])
            try await assertFalse(await client.subscribe("f", to: "limited").errorMessage.contains("reader-secret"), "never shows the key")
            try await client.subscribeSucceeding("f", to: "ticker")
        }
    }

    func testDuplicateStreamID() async throws {
        try await withHost { host in
            let client = try await host.connect()
            try await client.subscribeSucceeding("same", to: "ticker")
            expectRefusal(try await client.subscribe("same", to: "ticker", params: ["rate": 5]), code: "DUPLICATE_STREAM_ID", streamID: "same", mentioning: ["same"])
            // Another connection may use the same id.
            let other = try await host.connect()
            try await other.subscribeSucceeding("same", to: "ticker")
            // The first subscription is still intact.
            let frames = try await client.frames("same", count: 2)
            XCTAssertEqual(frames.count, 2)
        }
    }

    func testTooManySubscriptions() async throws {
        try await withHost(configure: { $0.maxSubscriptionsPerConnection = 2 }) { host in
            let client = try await host.connect()
            try await client.subscribeSucceeding("one", to: "ticker")
            try await client.subscribeSucceeding("two", to: "ticker")
            expectRefusal(try await client.subscribe("three", to: "ticker"), code: "TOO_MANY_SUBSCRIPTIONS", streamID: "three", mentioning: ["2"])
            _ = try await client.unsubscribe("one")
            try await client.subscribeSucceeding("three", to: "ticker")
        }
    }

    func testCapacityWhenThePipelineRunsItsMaximumOfInstances() async throws {
        try await withHost { host in
            let first = try await host.connect("/ws/limited")
            try await first.subscribeSucceeding("a", params: ["rate": 10])
            let second = try await host.connect("/ws/limited")
            expectRefusal(try await second.subscribe("b", params: ["rate": 11]), code: "CAPACITY", streamID: "b", mentioning: ["limited"])
            // Equal params share the running instance, which the limit allows.
            try await second.subscribeSucceeding("b", params: ["rate": 10])
            let status = try await host.pipelineStatus("limited")
            XCTAssertEqual(status["instances"]?.arrayValue?.count, 1)
            // Once the instance stops, other params may run.
            _ = try await first.unsubscribe("a")
            _ = try await second.unsubscribe("b")
            try await host.waitForPipelineStatus("limited", what: "the instance to stop") { $0["instances"]?.arrayValue?.isEmpty == true }
            try await second.subscribeSucceeding("c", params: ["rate": 11])
        }
    }

    func testSubscriptionsAreNotSupportedOnTheHeartbeatPath() async throws {
        try await withHost(configure: { $0.heartbeatInterval = 0.2 }) { host in
            let client = try await host.connect("/ws/heartbeat")
            try await assertEqual(await client.sendInit().type, "init")
            expectRefusal(try await client.subscribe("h", to: "ticker"), code: "SUBSCRIPTIONS_NOT_SUPPORTED", streamID: "h", mentioning: ["/ws/heartbeat"])
            let heartbeat = try await client.nextMessage(skippingHeartbeats: false)
            XCTAssertEqual(heartbeat.type, "heartbeat")
            try await client.send(type: "pong")
            try await client.send(type: "close")
            try await client.expectClose(code: 1000)
        }
    }
}
