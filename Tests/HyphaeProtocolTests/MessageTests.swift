import HyphaeCore
import HyphaeProtocol
import XCTest

final class MessageTests: XCTestCase {
    private func decode(_ message: ServerMessage, timestamp: Double = 1.5) throws -> JSONObject {
        var writer = JSONWriter()
        return try XCTUnwrap(JSONParser.parse(message.encoded(timestamp: timestamp, writer: &writer)).objectValue)
    }

    func testStreamEndCarriesReasonAndCounts() throws {
        let object = try decode(.streamEnd(streamID: "s1", reason: .pipelineRemoved, message: "gone", packetsSent: 3, droppedFrames: 1))
        XCTAssertEqual(object["type"], .string("stream_end"))
        XCTAssertEqual(object["stream_id"], .string("s1"))
        XCTAssertEqual(object["timestamp"]?.numberValue, 1.5)
        let payload = try XCTUnwrap(object["payload"]?.objectValue)
        XCTAssertEqual(payload["reason"], .string("pipeline_removed"))
        XCTAssertEqual(payload["packets_sent"], .int(3))
        XCTAssertEqual(payload["dropped_frames"], .int(1))
    }

    func testErrorRepeatsItsTimestampInThePayload() throws {
        let object = try decode(.error(.unknownStreamID, "no such id", streamID: "x", timestamp: 42))
        XCTAssertEqual(object["payload"]?.objectValue?["error_code"], .string("UNKNOWN_STREAM_ID"))
        XCTAssertEqual(object["payload"]?.objectValue?["timestamp"]?.numberValue, 42)
    }

    func testMessagesWithoutStreamOrPayloadLeaveThemOut() throws {
        let object = try decode(.heartbeat)
        XCTAssertEqual(object.count, 2)
        XCTAssertNil(object["stream_id"])
        XCTAssertNil(object["payload"])
    }

    func testClientMessages() throws {
        let subscribe = try XCTUnwrap(JSONParser.parse(ClientMessage.subscribe(streamID: "s", pipeline: "ticker", params: ["rate": .int(5)]).jsonText).objectValue)
        XCTAssertEqual(subscribe["type"], .string("subscribe"))
        XCTAssertEqual(subscribe["payload"]?.objectValue?["stream_type"], .string("ticker"))
        XCTAssertEqual(subscribe["payload"]?.objectValue?["params"]?.objectValue?["rate"], .int(5))
        let bare = try XCTUnwrap(JSONParser.parse(ClientMessage.subscribe(streamID: "s", pipeline: nil).jsonText).objectValue)
        XCTAssertNil(bare["payload"]?.objectValue?["stream_type"])
        XCTAssertNil(bare["payload"]?.objectValue?["params"])
        XCTAssertEqual(ClientMessage.pong.jsonText, #"{"type":"pong"}"#)
    }

    func testVocabularyMatchesTheProtocolText() {
        XCTAssertEqual(MessageType.clientTypes.map(\.rawValue), ["init", "auth", "subscribe", "unsubscribe", "pong", "close"])
        XCTAssertTrue(MessageType.streamReloaded.isServerMessage)
        XCTAssertFalse(MessageType("tick").isServerMessage)
        XCTAssertEqual(CloseCode.slowConsumer.rawValue, 4008)
        XCTAssertEqual(CloseCode.heartbeatTimeout.rawValue, 4000)
        XCTAssertEqual(BackpressurePolicy.allCases.map(\.rawValue), ["drop_oldest", "drop_newest", "compress", "close", "block"])
    }
}
