import HyphaeCore
import HyphaeProtocol
import NIOCore
import XCTest

final class FramingTests: XCTestCase {
    private let allocator = ByteBufferAllocator()

    func testHeaderLengthEncodingsAtTheirBoundaries() {
        for (length, expectedHeader) in [(0, 2), (125, 2), (126, 4), (65_535, 4), (65_536, 10)] {
            var buffer = allocator.buffer(capacity: 16)
            WebSocketFrameHeader.write(opcode: .text, payloadLength: length, into: &buffer)
            XCTAssertEqual(buffer.readableBytes, expectedHeader, "payload of \(length) bytes")
            XCTAssertEqual(buffer.getInteger(at: 0, as: UInt8.self), 0x81)
            let second = buffer.getInteger(at: 1, as: UInt8.self) ?? 0
            XCTAssertEqual(second & 0x80, 0, "a server frame is not masked")
            switch expectedHeader {
            case 2: XCTAssertEqual(Int(second), length)
            case 4: XCTAssertEqual(buffer.getInteger(at: 2, as: UInt16.self).map(Int.init), length)
            default: XCTAssertEqual(buffer.getInteger(at: 2, as: UInt64.self).map(Int.init), length)
            }
        }
    }

    func testClientHeaderCarriesTheMaskBitAndKey() {
        var buffer = allocator.buffer(capacity: 16)
        WebSocketFrameHeader.write(opcode: .pong, payloadLength: 300, maskKey: (1, 2, 3, 4), into: &buffer)
        XCTAssertEqual(Array(buffer.readableBytesView), [0x8A, 0x80 | 126, 0x01, 0x2C, 1, 2, 3, 4])
    }

    func testCloseFrameCutsItsReasonToFitAControlFrame() {
        var frame = ServerFrames.close(.slowConsumer, reason: String(repeating: "é", count: 200), allocator: allocator)
        XCTAssertEqual(frame.readInteger(as: UInt8.self), 0x88)
        let length = Int(frame.readInteger(as: UInt8.self) ?? 0)
        XCTAssertLessThanOrEqual(length, WebSocketFrameHeader.maximumControlPayload)
        XCTAssertEqual(frame.readInteger(as: UInt16.self), 4008)
        XCTAssertEqual(frame.readableBytes, length - 2)
    }

    func testDataFrameSplicesTheStreamIDIntoTheSharedEncoding() throws {
        var encoder = FrameEncoder()
        let frame = Frame(type: "tick", timestamp: 1000, payload: ["count": .int(8)], sequence: 7)
        var buffer = ServerFrames.data(encoder.encode(frame), escapedStreamID: FrameEncoder.escapedStreamID("a\"b"), allocator: allocator)
        let lengthCode = (buffer.getInteger(at: 1, as: UInt8.self) ?? 0) & 0x7F
        buffer.moveReaderIndex(forwardBy: lengthCode == 126 ? 4 : 2)
        let object = try XCTUnwrap(JSONParser.parse(Array(buffer.readableBytesView)).objectValue)
        XCTAssertEqual(object["type"], .string("tick"))
        XCTAssertEqual(object["stream_id"], .string("a\"b"))
        XCTAssertEqual(object["payload"]?.objectValue?["stream_id"], .string("a\"b"))
        XCTAssertEqual(object["payload"]?.objectValue?["sequence"], .int(7))
    }
}
