import HyphaeCore
import XCTest

final class FrameEncoderTests: XCTestCase {
    private let frame = Frame(type: "tick", timestamp: 1000.5, payload: ["count": 1, "note": "a\"b"], sequence: 3)

    /// The protocol message written out member by member, as a reference for the splice.
    private func directEncoding(of frame: Frame, streamID: String) -> String {
        var payload: JSONObject = ["stream_id": .string(streamID), "sequence": .int(frame.sequence), "timestamp": .double(frame.timestamp)]
        for (key, value) in frame.payload { payload.append(key, value) }
        let message: JSONValue = ["type": .string(frame.type), "stream_id": .string(streamID), "timestamp": .double(frame.timestamp), "payload": .object(payload)]
        return message.jsonText
    }

    func testTheSplicedMessageEqualsADirectEncoding() {
        var encoder = FrameEncoder()
        let encoded = encoder.encode(frame)
        for streamID in ["s1", "", "with \"quotes\" and \\ and\nnewline", "ünïcode-😀"] {
            let message = String(decoding: encoded.message(streamID: streamID), as: UTF8.self)
            XCTAssertEqual(message, directEncoding(of: frame, streamID: streamID))
            XCTAssertEqual(encoded.length(idLength: FrameEncoder.escapedStreamID(streamID).count), encoded.message(streamID: streamID).count)
        }
    }

    func testTheExactLayout() {
        var encoder = FrameEncoder()
        let message = String(decoding: encoder.encode(frame, streamID: "s1"), as: UTF8.self)
        XCTAssertEqual(message, #"{"type":"tick","stream_id":"s1","timestamp":1000.5,"payload":{"stream_id":"s1","sequence":3,"timestamp":1000.5,"count":1,"note":"a\"b"}}"#)
        let encoded = encoder.encode(frame)
        XCTAssertEqual(String(decoding: encoded.head, as: UTF8.self), #"{"type":"tick","stream_id":""#)
        XCTAssertEqual(String(decoding: encoded.middle, as: UTF8.self), #"","timestamp":1000.5,"payload":{"stream_id":""#)
        XCTAssertEqual(encoded.sequence, 3)
        XCTAssertEqual(encoded.delivery, .droppable)
    }

    func testAStreamIDWithQuotesStaysOneJSONString() throws {
        var encoder = FrameEncoder()
        let streamID = "a\"b\\c"
        XCTAssertEqual(String(decoding: FrameEncoder.escapedStreamID(streamID), as: UTF8.self), #"a\"b\\c"#)
        let parsed = try JSONParser.parse(encoder.encode(frame).message(streamID: streamID))
        XCTAssertEqual(parsed["stream_id"], .string(streamID))
        XCTAssertEqual(parsed["payload"]?["stream_id"], .string(streamID))
        XCTAssertEqual(parsed["payload"]?["note"], "a\"b")
    }

    func testWithoutAStreamIDTheMembersAreLeftOut() {
        var encoder = FrameEncoder()
        let message = String(decoding: encoder.encode(Frame(type: "t", timestamp: 2000, payload: ["x": 0.5], sequence: 0), streamID: nil), as: UTF8.self)
        XCTAssertEqual(message, #"{"type":"t","timestamp":2000.0,"payload":{"sequence":0,"timestamp":2000.0,"x":0.5}}"#)
    }

    func testAnEncodingSurvivesTheNextOne() {
        var encoder = FrameEncoder()
        let first = encoder.encode(frame)
        let expected = first.bytes
        _ = encoder.encode(Frame(type: "other", timestamp: 1, payload: ["big": .string(String(repeating: "x", count: 5000))]))
        XCTAssertEqual(first.bytes, expected, "the encoder's reused buffer must not change a frame already handed out")
    }

    func testEssentialFramesKeepTheirDelivery() {
        var encoder = FrameEncoder()
        XCTAssertEqual(encoder.encode(Frame(type: "simulation_complete", delivery: .essential)).delivery, .essential)
        XCTAssertTrue(Frame(type: "end", delivery: .essential).isEssential)
        XCTAssertFalse(Frame(type: "tick").isEssential)
    }
}
