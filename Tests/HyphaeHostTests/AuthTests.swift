import HyphaeClient
import HyphaeCore
import HyphaeHost
import XCTest

/// PROTOCOL.md, auth.
final class AuthTests: XCTestCase {
    private static let key = "k1-secret-key"
    private static let otherKey = "k2-other-key"
    private static let genericFailure = "Invalid API key or timestamp"

    private func withKeyedHost(
        configure: @escaping (inout HostConfiguration) -> Void = { _ in },
        _ body: (RunningHost) async throws -> Void
    ) async throws {
        try await withHost(configure: {
            $0.apiKeys = [APIKey(secret: Self.key), APIKey(secret: Self.otherKey, id: "second")]
            $0.maxAuthAttempts = 10
            configure(&$0)
        }, body)
    }

    private func expectGenericFailure(_ reply: JSONObject, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(reply.type, "auth_failed", reply.text, file: file, line: line)
        XCTAssertEqual(reply.errorCode, "AUTH_FAILED", reply.text, file: file, line: line)
        XCTAssertEqual(reply.errorMessage, Self.genericFailure, "the message never says which check failed", file: file, line: line)
        XCTAssertNotNil(reply["timestamp"]?.numberValue, file: file, line: line)
    }

    private var now: Double { WallClock.nowMilliseconds() }

    func testGoodKeySucceedsWithAMaskedKeyID() async throws {
        try await withKeyedHost { host in
            let client = try await host.connect()
            let reply = try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: false))
            XCTAssertEqual(reply.type, "auth_success")
            let keyID = try XCTUnwrap(reply.payload["key_id"]?.stringValue)
            XCTAssertTrue(keyID.hasPrefix("k1-s"), keyID)
            XCTAssertFalse(keyID.contains(Self.key), "the key itself is never shown: \(keyID)")
            try await client.subscribeSucceeding("after-auth", to: "ticker")

            let second = try await host.connect()
            let named = try await second.authenticate(ProtocolClient.authPayload(apiKey: Self.otherKey, signed: false))
            XCTAssertEqual(named.payload["key_id"], "second", "a configured id is shown")
        }
    }

    func testBadKeyStaleAndFutureTimestampsFailAlike() async throws {
        try await withKeyedHost { host in
            let client = try await host.connect()
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: "k1-wrong-key", signed: false)))
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key + "x", signed: false)))
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, timestamp: now - 400_000, signed: false)))
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, timestamp: now + 400_000, signed: false)))
            // Inside the window either way is fine.
            let early = try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, timestamp: now - 250_000, signed: false))
            XCTAssertEqual(early.type, "auth_success")
        }
    }

    func testTimestampsBelow1e12AreSeconds() async throws {
        try await withKeyedHost { host in
            let client = try await host.connect()
            let seconds = (now / 1000).rounded(.down)
            let inSeconds = try await client.authenticate(["api_key": .string(Self.key), "timestamp": .int(Int(seconds))])
            XCTAssertEqual(inSeconds.type, "auth_success", inSeconds.text)
            let fractional = try await client.authenticate(["api_key": .string(Self.key), "timestamp": .double(seconds + 0.25)])
            XCTAssertEqual(fractional.type, "auth_success", fractional.text)
            let fractionalMilliseconds = try await client.authenticate(["api_key": .string(Self.key), "timestamp": .double(now + 0.5)])
            XCTAssertEqual(fractionalMilliseconds.type, "auth_success", fractionalMilliseconds.text)
            expectGenericFailure(try await client.authenticate(["api_key": .string(Self.key), "timestamp": .int(Int(seconds) - 400)]))
        }
    }

    func testSignatures() async throws {
        try await withKeyedHost { host in
            let client = try await host.connect()
            let good = try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: true))
            XCTAssertEqual(good.type, "auth_success")

            // Uppercase hex is the same signature.
            let timestamp = Int(now) + 1
            let upper = ProtocolClient.signature(apiKey: Self.key, timestamp: timestamp).uppercased()
            let uppercase = try await client.authenticate(["api_key": .string(Self.key), "timestamp": .int(timestamp), "signature": .string(upper)])
            XCTAssertEqual(uppercase.type, "auth_success", uppercase.text)

            // The documented example: key k1, timestamp 1764756000123 signs "1764756000123".
            XCTAssertEqual(
                ProtocolClient.signature(apiKey: "k1", timestamp: 1_764_756_000_123),
                "780e1302ab3e28fb5d0688ab93da81ff683f8b6d5359a12397ff52018d4526bf")

            let otherTimestamp = Int(now) + 2
            let signedWithOtherKey = ProtocolClient.signature(apiKey: Self.otherKey, timestamp: otherTimestamp)
            expectGenericFailure(try await client.authenticate([
                "api_key": .string(Self.key), "timestamp": .int(otherTimestamp), "signature": .string(signedWithOtherKey),
            ]))
            let signedOtherTime = ProtocolClient.signature(apiKey: Self.key, timestamp: otherTimestamp + 1)
            expectGenericFailure(try await client.authenticate([
                "api_key": .string(Self.key), "timestamp": .int(otherTimestamp), "signature": .string(signedOtherTime),
            ]))
            expectGenericFailure(try await client.authenticate([
                "api_key": .string(Self.key), "timestamp": .int(otherTimestamp), "signature": "not hex at all",
            ]))
        }
    }

    func testSignatureRequiredRefusesAnUnsignedAuth() async throws {
        try await withKeyedHost(configure: { $0.signatureRequired = true }) { host in
            let client = try await host.connect()
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: false)))
            let signed = try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: true))
            XCTAssertEqual(signed.type, "auth_success")
        }
    }

    func testASignedAuthIsAcceptedOnce() async throws {
        try await withKeyedHost { host in
            let payload = ProtocolClient.authPayload(apiKey: Self.key, signed: true)
            let first = try await host.connect()
            try await assertEqual(await first.authenticate(payload).type, "auth_success")
            let second = try await host.connect()
            expectGenericFailure(try await second.authenticate(payload))
            let refused = try await second.subscribe("s", to: "ticker")
            XCTAssertEqual(refused.errorCode, "NOT_AUTHENTICATED")
            // A fresh signature works.
            let fresh = ProtocolClient.authPayload(apiKey: Self.key, timestamp: now + 1, signed: true)
            try await assertEqual(await second.authenticate(fresh).type, "auth_success")
        }
    }

    func testMalformedAuthPayloadsAreAuthErrorsNamingTheField() async throws {
        try await withKeyedHost { host in
            let client = try await host.connect()
            func expectAuthError(_ payload: JSONValue?, naming field: String, file: StaticString = #filePath, line: UInt = #line) async throws {
                var message: JSONObject = ["type": "auth"]
                if let payload { message["payload"] = payload }
                try await client.send(.object(message))
                let reply = try await client.nextReply()
                XCTAssertEqual(reply.type, "auth_failed", reply.text, file: file, line: line)
                XCTAssertEqual(reply.errorCode, "AUTH_ERROR", reply.text, file: file, line: line)
                XCTAssertTrue(reply.errorMessage.contains(field), "'\(reply.errorMessage)' names \(field)", file: file, line: line)
            }
            try await expectAuthError(.object(["timestamp": .double(now)]), naming: "api_key")
            try await expectAuthError(.object(["api_key": 42, "timestamp": .double(now)]), naming: "api_key")
            try await expectAuthError(.object(["api_key": .string(Self.key), "timestamp": "yesterday"]), naming: "timestamp")
            try await expectAuthError(.object(["api_key": .string(Self.key)]), naming: "timestamp")
            try await expectAuthError(.object(["api_key": .string(Self.key), "timestamp": .double(now), "signature": 12]), naming: "signature")
            try await expectAuthError(nil, naming: "payload")
            try await expectAuthError("key", naming: "payload")
            let reply = try await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: false))
            XCTAssertEqual(reply.type, "auth_success")
        }
    }

    func testTooManyFailedAttemptsCloseWith1008() async throws {
        try await withKeyedHost(configure: { $0.maxAuthAttempts = 3 }) { host in
            let client = try await host.connect()
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: "wrong", signed: false)))
            // AUTH_ERROR counts as an attempt.
            let malformed = try await client.authenticate(["timestamp": .double(now)])
            XCTAssertEqual(malformed.errorCode, "AUTH_ERROR")
            try await client.send(type: "auth", payload: ProtocolClient.authPayload(apiKey: "still wrong", signed: false))
            let beforeClose = try await client.expectClose(code: 1008)
            XCTAssertEqual(beforeClose.count, 1, "the last auth_failed, then the close: \(beforeClose.map(\.text))")
            if let last = beforeClose.last { expectGenericFailure(last) }
            // Others are unaffected.
            let other = try await host.connect()
            try await assertEqual(await other.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: false)).type, "auth_success")
        }
    }

    func testASuccessResetsTheFailedAttempts() async throws {
        try await withKeyedHost(configure: { $0.maxAuthAttempts = 2 }) { host in
            let client = try await host.connect()
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: "wrong", signed: false)))
            try await assertEqual(await client.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: false)).type, "auth_success")
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: "wrong", signed: false)))
            try await client.assertAlive("one failure after a success")
        }
    }

    func testNoAuthBeforeTheDeadlineClosesWith1008() async throws {
        try await withKeyedHost(configure: {
            $0.authDeadline = 0.3
            $0.heartbeatInterval = 30
        }) { host in
            let idle = try await host.connect()
            let authenticated = try await host.connect()
            try await assertEqual(await authenticated.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: false)).type, "auth_success")
            try await idle.expectClose(code: 1008)
            // The deadline does not touch a connection that authenticated in time.
            try await authenticated.subscribeSucceeding("s", to: "finite", params: ["count": 3, "rate": 5])
            let (frames, _) = try await authenticated.framesUntilStreamEnd("s")
            XCTAssertEqual(frames.count, 3)
            try await authenticated.assertAlive("the auth deadline")
        }
    }

    func testDevModeWithoutKeysNeedsNoAuthButStillChecksTimestampAndSignature() async throws {
        try await withHost(configure: { $0.environment = .dev }) { host in
            let client = try await host.connect()
            try await assertEqual(await client.sendInit().payload["auth_required"], false)
            try await client.subscribeSucceeding("free", to: "ticker")
            expectGenericFailure(try await client.authenticate(ProtocolClient.authPayload(apiKey: "any", timestamp: now - 400_000, signed: false)))
            let timestamp = Int(now)
            expectGenericFailure(try await client.authenticate([
                "api_key": "any", "timestamp": .int(timestamp), "signature": .string(ProtocolClient.signature(apiKey: "other", timestamp: timestamp)),
            ]))
            let anyKey = try await client.authenticate(ProtocolClient.authPayload(apiKey: "whatever", signed: true))
            XCTAssertEqual(anyKey.type, "auth_success", "the key is not checked in dev")
            // Failures in dev do not cost the subscription.
            try await assertEqual(await client.frames("free", count: 1).count, 1)
        }
    }

    /// The key followed by 256 NUL bytes (or anything else) used to authenticate: the
    /// length difference was folded into 8 bits. Now it is an unknown key, and a
    /// subscriber that authenticated with the right key is served throughout.
    func testAKeyFollowedByExtraBytesIsAnUnknownKeyWhileOthersAreServed() async throws {
        try await withKeyedHost { host in
            let watcher = try await host.connect("/ws/ticker")
            let welcome = try await watcher.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: false))
            XCTAssertEqual(welcome.type, "auth_success")
            try await watcher.subscribeSucceeding("bystander", params: ["rate": 100])
            let guesser = try await host.connect()
            for suffix in [String(repeating: "\u{0}", count: 256), String(repeating: "\u{0}", count: 1), "\u{100}", String(repeating: "x", count: 256)] {
                expectGenericFailure(try await guesser.authenticate(ProtocolClient.authPayload(apiKey: Self.key + suffix, signed: false)))
            }
            expectGenericFailure(try await guesser.authenticate(ProtocolClient.authPayload(apiKey: String(Self.key.dropLast()), signed: false)))
            let frames = try await watcher.frames("bystander", count: 3)
            XCTAssertEqual(frames.count, 3)
        }
    }

    /// After the last failed attempt the close begins and nothing more is evaluated: a
    /// right key sent right behind the wrong ones (in the same write) gets no answer and
    /// does not show in the auth counters, and a subscriber of the same key is served.
    func testNothingIsEvaluatedAfterTheLastFailedAttempt() async throws {
        try await withKeyedHost(configure: { $0.maxAuthAttempts = 3 }) { host in
            let watcher = try await host.connect("/ws/ticker")
            let welcome = try await watcher.authenticate(ProtocolClient.authPayload(apiKey: Self.key, signed: false))
            XCTAssertEqual(welcome.type, "auth_success")
            try await watcher.subscribeSucceeding("bystander", params: ["rate": 100])
            let guesser = try await RawWebSocket.connect(port: host.port)
            func auth(_ key: String) -> [UInt8] {
                let payload = JSONValue.object(ProtocolClient.authPayload(apiKey: key, signed: false))
                return RawWebSocket.text(#"{"type":"auth","payload":"# + payload.jsonText + "}")
            }
            try await guesser.write(auth("wrong-1") + auth("wrong-2") + auth("wrong-3") + auth(Self.key) + auth(Self.key))
            var replies: [String] = []
            var closeCode: UInt16?
            while closeCode == nil {
                let frame = try await guesser.nextFrame()
                if frame.opcode == 0x8 { closeCode = frame.closeCode } else { replies.append(frame.text) }
            }
            XCTAssertEqual(closeCode, 1008)
            XCTAssertEqual(replies.count, 3, "\(replies)")
            XCTAssertTrue(replies.allSatisfy { $0.contains("auth_failed") }, "\(replies)")
            let metrics = try await host.get("/metrics").body
            XCTAssertTrue(metrics.contains("hyphae_auth_total{result=\"success\"} 1\n"), "only the bystander's success: \(metrics)")
            XCTAssertTrue(metrics.contains("hyphae_auth_total{result=\"failure\"} 3\n"), metrics)
            let frames = try await watcher.frames("bystander", count: 2)
            XCTAssertEqual(frames.count, 2)
        }
    }
}
