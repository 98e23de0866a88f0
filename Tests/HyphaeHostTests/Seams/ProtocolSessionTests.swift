import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import NIOCore
import NIOEmbedded
import XCTest

/// PROTOCOL.md, Client messages and Invalid messages, against one `ProtocolSession`
/// on an `EmbeddedChannel`: what it writes for each thing a client sends, byte for
/// byte but for the timestamps, without a socket or a thread.
final class ProtocolSessionTests: XCTestCase {
    // MARK: init

    func testInitRepliesWithTheProtocolVersionAndTheHostsSettings() throws {
        try withEmbeddedSession(configure: {
            $0.heartbeatInterval = 12
            $0.heartbeatTimeout = 34.5
        }) { session in
            try session.send(type: "init", payload: ["protocol_version": "1.0", "client_info": "seams/1"])
            assertMessage(try session.reply(), [
                "type": "init",
                "payload": [
                    "protocol_version": "1.0", "server": .string("hyphae/\(HyphaeServer.version)"), "auth_required": false,
                    "heartbeat_interval_ms": 12_000, "heartbeat_timeout_ms": 34_500,
                ],
            ])
        }
    }

    func testInitSaysAuthIsRequiredWhereKeysAreConfigured() throws {
        try withEmbeddedSession(configure: { $0.apiKeys = [APIKey(secret: "seam-secret")] }) { session in
            try session.send(type: "init")
            XCTAssertEqual(try session.reply()?.message?.payload["auth_required"], true)
        }
    }

    // MARK: Invalid messages

    func testAnUnknownTypeIsUnknownMessageTypeNamingItAndTheKnownTypes() throws {
        try withEmbeddedSession { session in
            try session.send(type: "heartbeat")
            let reply = try session.reply()
            XCTAssertEqual(reply?.message?.type, "error")
            XCTAssertEqual(reply?.message?.errorCode, "UNKNOWN_MESSAGE_TYPE")
            XCTAssertEqual(reply?.message?.errorMessage, "unknown message type 'heartbeat'; known types: init, auth, subscribe, unsubscribe, pong, close")
            assertStampedNow(reply?.message?.payload["timestamp"], "the error payload's timestamp")
            XCTAssertTrue(session.channel.isActive, "an unknown type leaves the connection open")
        }
    }

    /// PROTOCOL.md: "UNKNOWN_MESSAGE_TYPE ... (the message suggests the nearest)".
    func testAnUnknownTypeMessageSuggestsTheNearestKnownType() throws {
        try withEmbeddedSession { session in
            try session.send(type: "subscrbe", payload: ["stream_id": "x"])
            assertMessage(try session.reply(), [
                "type": "error",
                "payload": [
                    "error_code": "UNKNOWN_MESSAGE_TYPE",
                    "message": "unknown message type 'subscrbe'; did you mean 'subscribe'? known types: init, auth, subscribe, unsubscribe, pong, close",
                ],
            ])
        }
    }

    /// A type of a few characters that are each a letter and 2,000 combining marks: the
    /// reply quotes at most 64 bytes of it, not 64 characters (about 256 KB here).
    func testTheQuotedTypeIsBoundedInBytesNotCharacters() throws {
        try withEmbeddedSession(configure: { $0.maxFrameSize = 1 << 20 }) { session in
            let heavy = String(repeating: "a" + String(repeating: "\u{0301}", count: 2_000), count: 64)
            try session.send(type: heavy)
            let reply = try XCTUnwrap(try session.reply()?.message)
            XCTAssertEqual(reply.errorCode, "UNKNOWN_MESSAGE_TYPE")
            let message = try XCTUnwrap(reply.errorMessage)
            XCTAssertLessThan(message.utf8.count, 300, "the reply grew with the input: \(message.utf8.count) bytes")
            XCTAssertTrue(message.utf8.starts(with: "unknown message type 'a\u{0301}".utf8), message)
        }
    }

    func testTextThatIsNotJSONIsAnInvalidMessage() throws {
        try withEmbeddedSession { session in
            try session.sendText("{\"type\": \"init\"")
            let parserSays = try XCTUnwrap(parseError("{\"type\": \"init\""))
            assertMessage(try session.reply(), [
                "type": "error",
                "payload": ["error_code": "INVALID_MESSAGE", "message": .string("the message is not valid JSON: \(parserSays)")],
            ])
        }
    }

    func testJSONThatIsNotAMessageIsAnInvalidMessage() throws {
        let cases = [
            "[1, 2]": "a message must be a JSON object with a 'type', found an array",
            "{\"payload\": {}}": "the message has no 'type' (a string such as \"subscribe\")",
            "{\"type\": 5}": "the message has no 'type' (a string such as \"subscribe\")",
        ]
        try withEmbeddedSession { session in
            for (text, explanation) in cases.sorted(by: { $0.key < $1.key }) {
                try session.sendText(text)
                assertMessage(try session.reply(), ["type": "error", "payload": ["error_code": "INVALID_MESSAGE", "message": .string(explanation)]])
            }
        }
    }

    func testTheTenthInvalidMessageInARowGetsItsErrorThenClose1008() throws {
        try withEmbeddedSession { session in
            for index in 1...9 {
                try session.sendText(index.isMultiple(of: 2) ? "{\"type\":\"nope\"}" : "garbage")
                XCTAssertEqual(try session.reply()?.message?.type, "error", "invalid message \(index)")
            }
            XCTAssertTrue(session.channel.isActive)
            try session.sendText("garbage")
            let frames = try session.written()
            XCTAssertEqual(frames.count, 2, "\(frames)")
            XCTAssertEqual(frames.first?.message?.errorCode, "INVALID_MESSAGE")
            XCTAssertEqual(frames.last, .close(code: 1008, reason: "too many invalid messages"))
            XCTAssertFalse(session.channel.isActive, "closed once the close frame was written")
        }
    }

    func testAValidMessageResetsTheInvalidCount() throws {
        try withEmbeddedSession { session in
            for _ in 1...9 {
                try session.sendText("garbage")
                _ = try session.reply()
            }
            // A refused request is a valid message: it resets the count all the same.
            try session.send(type: "unsubscribe", payload: ["stream_id": "none"])
            XCTAssertEqual(try session.reply()?.message?.errorCode, "UNKNOWN_STREAM_ID")
            for _ in 1...9 {
                try session.sendText("garbage")
                XCTAssertEqual(try session.reply()?.message?.errorCode, "INVALID_MESSAGE")
            }
            XCTAssertTrue(session.channel.isActive, "18 invalid messages, never 10 in a row")
        }
    }

    func testABinaryFrameIsAnInvalidMessage() throws {
        try withEmbeddedSession { session in
            try session.sendFrame(.binary, Array("{\"type\":\"init\"}".utf8))
            assertMessage(try session.reply(), [
                "type": "error",
                "payload": ["error_code": "INVALID_MESSAGE", "message": "binary frames are not part of the protocol; send JSON text frames"],
            ])
            XCTAssertTrue(session.channel.isActive)
        }
    }

    // MARK: Control frames and close

    func testAPingIsAnsweredWithAPongCarryingTheSameData() throws {
        try withEmbeddedSession { session in
            try session.sendFrame(.ping, [0x68, 0x79, 0x00, 0xFF])
            XCTAssertEqual(try session.reply(), .pong([0x68, 0x79, 0x00, 0xFF]))
            try session.sendFrame(.ping, [])
            XCTAssertEqual(try session.reply(), .pong([]))
        }
    }

    func testAClientCloseFrameIsEchoedAndTheConnectionCloses() throws {
        let echoes: [(sent: [UInt8], echoed: UInt16)] = [
            ([0x03, 0xE8], 1000),
            ([], 1000),  // no code: answered with 1000, as PROTOCOL.md says
            ([0x03, 0xE9] + Array("bye".utf8), 1001),
        ]
        for (sent, echoed) in echoes {
            try withEmbeddedSession { session in
                try session.sendFrame(.connectionClose, sent)
                XCTAssertEqual(try session.reply(), .close(code: echoed, reason: ""), "for a close frame holding \(sent)")
                XCTAssertFalse(session.channel.isActive)
            }
        }
    }

    func testTheCloseMessageClosesWith1000() throws {
        try withEmbeddedSession { session in
            try session.send(type: "close")
            XCTAssertEqual(try session.reply(), .close(code: 1000, reason: "closed at the client's request"))
            XCTAssertFalse(session.channel.isActive)
        }
    }

    // MARK: auth

    private static let key = APIKey(secret: "seam-secret-1", id: "seams")

    private func requiringAuth(_ configuration: inout HostConfiguration) {
        configuration.apiKeys = [Self.key]
    }

    private func authPayload(key: String) -> JSONObject {
        AuthSignature.authPayload(apiKey: key, timestamp: Int64(WallClock.nowMilliseconds()), signed: false)
    }

    func testSubscribeBeforeAuthIsNotAuthenticated() throws {
        try withEmbeddedSession(configure: requiringAuth) { session in
            try session.send(type: "subscribe", payload: ["stream_id": "s1", "stream_type": "ticker"])
            assertMessage(try session.reply(), [
                "type": "subscribe_failed", "stream_id": "s1",
                "payload": ["error_code": "NOT_AUTHENTICATED", "message": "authenticate first: send an 'auth' message with your api_key and timestamp"],
            ])
        }
    }

    func testThreeWrongKeysCloseWith1008() throws {
        try withEmbeddedSession(configure: requiringAuth) { session in
            for attempt in 1...2 {
                try session.send(type: "auth", payload: authPayload(key: "wrong-\(attempt)"))
                assertMessage(try session.reply(), ["type": "auth_failed", "payload": ["error_code": "AUTH_FAILED", "message": "Invalid API key or timestamp"]])
            }
            XCTAssertTrue(session.channel.isActive)
            try session.send(type: "auth", payload: authPayload(key: "wrong-3"))
            let frames = try session.written()
            XCTAssertEqual(frames.count, 2, "\(frames)")
            XCTAssertEqual(frames.first?.message?.errorCode, "AUTH_FAILED")
            XCTAssertEqual(frames.last, .close(code: 1008, reason: "too many failed auth attempts"))
            XCTAssertFalse(session.channel.isActive)
        }
    }

    func testTheRightKeyIsAuthSuccessWithTheKeysID() throws {
        try withEmbeddedSession(configure: requiringAuth) { session in
            try session.send(type: "auth", payload: authPayload(key: Self.key.secret))
            assertMessage(try session.reply(), ["type": "auth_success", "payload": ["key_id": "seams"]])
            // Past auth, a subscribe gets as far as its own shape.
            try session.send(type: "subscribe", payload: [:])
            XCTAssertEqual(try session.reply()?.message?.errorCode, "SUBSCRIBE_ERROR")
        }
    }

    // MARK: subscribe and unsubscribe

    func testSubscribeWithoutAStreamIDIsSubscribeError() throws {
        try withEmbeddedSession { session in
            try session.send(type: "subscribe", payload: ["stream_type": "ticker"])
            assertMessage(try session.reply(), [
                "type": "subscribe_failed",
                "payload": ["error_code": "SUBSCRIBE_ERROR", "message": "stream_id must be a string of 1 to 128 characters and at most 512 bytes of UTF-8, found nothing"],
            ])
        }
    }

    func testAStreamTypeThatIsNotAStringIsSubscribeError() throws {
        try withEmbeddedSession { session in
            try session.send(type: "subscribe", payload: ["stream_id": "s1", "stream_type": 5])
            assertMessage(try session.reply(), [
                "type": "subscribe_failed", "stream_id": "s1",
                "payload": ["error_code": "SUBSCRIBE_ERROR", "message": "stream_type must be a string (a pipeline name), found an integer"],
            ])
        }
    }

    func testAnUnknownPipelineIsUnknownStreamWithTheNearestName() throws {
        try withEmbeddedSession { session in
            try session.send(type: "subscribe", payload: ["stream_id": "s1", "stream_type": "tickr"])
            assertMessage(try session.reply(), [
                "type": "subscribe_failed", "stream_id": "s1",
                "payload": [
                    "error_code": "UNKNOWN_STREAM",
                    "message": "no pipeline named 'tickr'; did you mean 'ticker'? (available: counted, finite, limited, ticker)",
                ],
            ])
        }
    }

    func testSubscribeOnTheHeartbeatEndpointIsNotSupportedBeforeAnyOtherCheck() throws {
        try withEmbeddedSession(endpoint: .heartbeat, configure: requiringAuth) { session in
            try session.send(type: "subscribe", payload: ["stream_id": "s1", "stream_type": "no_such_pipeline"])
            assertMessage(try session.reply(), [
                "type": "subscribe_failed", "stream_id": "s1",
                "payload": [
                    "error_code": "SUBSCRIPTIONS_NOT_SUPPORTED",
                    "message": "/ws/heartbeat carries heartbeats only; subscribe on /ws or on a pipeline's path",
                ],
            ])
        }
    }

    func testUnsubscribingAnUnknownIDIsUnknownStreamID() throws {
        try withEmbeddedSession { session in
            try session.send(type: "unsubscribe", payload: ["stream_id": "zz"])
            assertMessage(try session.reply(), [
                "type": "error", "stream_id": "zz",
                "payload": ["error_code": "UNKNOWN_STREAM_ID", "message": "no subscription 'zz' on this connection, which holds 0 subscriptions; unsubscribe with the stream_id you subscribed with"],
            ])
        }
    }

    /// What `JSONParser` says about `text`, which the session passes on.
    private func parseError(_ text: String) -> String? {
        do {
            _ = try JSONParser.parse(text)
            return nil
        } catch {
            return error.description
        }
    }
}
