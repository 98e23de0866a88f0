import HyphaeCore
@testable import HyphaeHost
import NIOCore
import XCTest

/// The pieces of permessage-deflate that a live client cannot reach one by one: the
/// shared compressed frame read back under many stream ids, the inflate bound, and the
/// answers to offers. Tests/HyphaeCLITests/PermessageDeflateTests drives all of it from
/// real clients against a real host.
final class PermessageDeflateTests: XCTestCase {
    private func encoded(_ payload: JSONObject) -> EncodedFrame {
        var encoder = FrameEncoder()
        return encoder.encode(Frame(type: "feature_update", payload: payload, sequence: 7))
    }

    /// Inflates a server message (header included) as a client does, on a fresh window.
    private func inflate(_ message: ByteBuffer) throws -> [UInt8] {
        var message = message
        let first = try XCTUnwrap(message.readInteger(as: UInt8.self))
        XCTAssertEqual(first, 0xC1, "FIN, RSV1 and text")
        let second = try XCTUnwrap(message.readInteger(as: UInt8.self))
        switch second {
        case 126: _ = message.readInteger(as: UInt16.self)
        case 127: _ = message.readInteger(as: UInt64.self)
        default: break
        }
        message.writeBytes([0x00, 0x00, 0xFF, 0xFF])
        let inflater = try XCTUnwrap(RawInflater())
        var output = ByteBuffer()
        try inflater.inflate(message, into: &output, limit: 1 << 24)
        return Array(output.readableBytesView)
    }

    func testOneCompressedFrameReadsBackUnderEveryStreamID() throws {
        let values = (0..<2000).map { JSONValue.double(Double($0 % 37) * 0.125) }
        let frame = encoded(["field": .array(values), "label": .string("ünïcode \"quoted\"")])
        let deflated = try XCTUnwrap(FrameDeflater().deflate(frame))
        XCTAssertLessThan(deflated.bytes.count, frame.bytes.count / 4, "a repetitive frame compresses well")
        for streamID in ["s", "stream-1", "ü-\"escaped\"\\", String(repeating: "x", count: 128)] {
            let id = FrameEncoder.escapedStreamID(streamID)
            let message = deflated.message(escapedStreamID: id, allocator: ByteBufferAllocator())
            XCTAssertEqual(try inflate(message), frame.message(streamID: streamID), "stream id \(streamID)")
        }
    }

    func testAFrameTooSmallToCompressStillRoundTrips() throws {
        let frame = encoded([:])
        let deflated = try XCTUnwrap(FrameDeflater().deflate(frame))
        let message = deflated.message(escapedStreamID: FrameEncoder.escapedStreamID("a"), allocator: ByteBufferAllocator())
        XCTAssertEqual(try inflate(message), frame.message(streamID: "a"))
    }

    func testAnInflateBombStopsAtTheLimitWithoutInflatingTheRest() throws {
        let deflater = try XCTUnwrap(RawDeflater(level: 9))
        var bomb: [UInt8] = []
        XCTAssertTrue(deflater.appendSyncFlushed(ArraySlice(repeating: 0x20, count: 10_000_000), to: &bomb))
        XCTAssertLessThan(bomb.count, 20_000, "10 MB of spaces fit in a 64 KiB frame")
        let inflater = try XCTUnwrap(RawInflater())
        var output = ByteBuffer()
        XCTAssertThrowsError(try inflater.inflate(ByteBuffer(bytes: bomb), into: &output, limit: 65_536)) { error in
            guard case .tooLarge = error as? RawInflater.Failure else { return XCTFail("\(error)") }
        }
        XCTAssertLessThanOrEqual(output.readableBytes, 65_536 + 16_384, "no more than the limit and one step is held")
    }

    func testCorruptDataIsReportedAsSuch() throws {
        let inflater = try XCTUnwrap(RawInflater())
        var output = ByteBuffer()
        XCTAssertThrowsError(try inflater.inflate(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF]), into: &output, limit: 1000)) { error in
            guard case .corrupt = error as? RawInflater.Failure else { return XCTFail("\(error)") }
        }
    }

    func testOffersAreAcceptedOnlyOnTermsTheSharedFrameCanKeep() {
        let answer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        let cases: [(String?, String?)] = [
            (nil, nil),
            ("permessage-deflate", answer),
            ("permessage-deflate; client_max_window_bits", answer),
            ("permessage-deflate; server_max_window_bits=15", answer + "; server_max_window_bits=15"),
            ("permessage-deflate; server_max_window_bits=\"15\"", answer + "; server_max_window_bits=15"),
            ("permessage-deflate; server_max_window_bits=9", nil),
            ("permessage-deflate; server_max_window_bits=9, permessage-deflate", answer),
            ("permessage-deflate; server_max_window_bits", nil),
            ("permessage-deflate; client_max_window_bits=07", nil),
            ("permessage-deflate; client_no_context_takeover; client_no_context_takeover", nil),
            ("permessage-deflate; unknown", nil),
            ("permessage-deflate; server_no_context_takeover=x", nil),
            ("other; x=\"a, permessage-deflate\"", nil),
            ("permessage-deflate;;", nil),
        ]
        for (offer, expected) in cases {
            let agreement = PerMessageDeflateNegotiation.agreement(offers: offer.map { [$0] } ?? [])
            XCTAssertEqual(agreement?.responseHeader, expected, "offer \(offer ?? "none")")
        }
    }
}
