import Foundation
import HyphaeCore
import HyphaeTesting
import XCTest

@testable import Compression

final class PackingTests: XCTestCase {
    func testBase64MatchesTheRFCVectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.encode(Array(plain.utf8)), encoded)
        }
        var random = SeededGenerator(seed: 3)
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            XCTAssertEqual(Base64.encode(bytes), Data(bytes).base64EncodedString())
        }
    }

    func testSixteenBitQuantaAreLittleEndian() throws {
        let packed = try XCTUnwrap(NumericArrayPacker(width: .bits16, minimumLength: 2).pack([0, 65535, 256]))
        // Whole numbers that fit travel with scale 1: 0x0000, 0xFFFF, 0x0100.
        XCTAssertEqual(packed, ["packed": "u16", "offset": 0.0, "scale": 1.0, "length": 3, "data": .string(Base64.encode([0x00, 0x00, 0xFF, 0xFF, 0x00, 0x01]))])
    }

    func testQuantisationErrorIsAtMostHalfAScaleStep() throws {
        var random = SeededGenerator(seed: 5)
        let numbers = (0..<4096).map { _ in -0.07 + Double.random(in: -0.005...0.005, using: &random) }
        for width in PackWidth.allCases {
            let packed = try XCTUnwrap(NumericArrayPacker(width: width, minimumLength: 64).pack(numbers))
            let scale = try XCTUnwrap(packed["scale"]?.numberValue)
            let range = (numbers.max() ?? 0) - (numbers.min() ?? 0)
            XCTAssertEqual(scale, range / Double(width.largestQuantum))
            let decoded = try ClientRebuilder.unpack(packed)
            XCTAssertEqual(decoded.count, numbers.count)
            let worst = zip(decoded, numbers).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, scale / 2 * (1 + 1e-9), "\(width)")
            XCTAssertGreaterThan(worst, scale / 4, "\(width): the error bound should be nearly reached on 4096 values")
        }
    }

    func testConstantArrayHasScaleZero() throws {
        let packed = try XCTUnwrap(NumericArrayPacker(width: .bits8, minimumLength: 2).pack(Array(repeating: -0.07, count: 5)))
        XCTAssertEqual(packed["scale"], 0.0)
        XCTAssertEqual(packed["offset"], -0.07)
        XCTAssertEqual(packed["data"], .string(Base64.encode([0, 0, 0, 0, 0])))
        XCTAssertEqual(try ClientRebuilder.unpack(packed), Array(repeating: -0.07, count: 5))
    }

    func testArraysWithNonFiniteValuesStayUnpacked() {
        let packer = NumericArrayPacker(width: .bits16, minimumLength: 2)
        let withNaN = JSONValue.numbers([1, .nan, 3])
        XCTAssertEqual(packer.packing(withNaN).jsonText, "[1.0,null,3.0]")
        XCTAssertNil(packer.pack([1, .infinity]))
        XCTAssertNil(packer.pack([-Double.greatestFiniteMagnitude, .greatestFiniteMagnitude]), "a range that overflows")
    }

    /// Found by FuzzCompression: `range / (2^bits - 1)` rounds up, so for [0, largest Double]
    /// a client's `offset + q * scale` overflowed to infinity on the top quantum.
    func testPackedArraysNearTheLargestDoubleNeverDecodeToInfinity() throws {
        let largest = Double.greatestFiniteMagnitude
        let arrays: [[Double]] = [
            [0, largest],
            [1e300, largest / 3, largest],
            [-1, 0.237, largest.nextDown, largest],
            [1e307, 5e307, largest],
        ]
        for width in PackWidth.allCases {
            let packer = NumericArrayPacker(width: width, minimumLength: 2)
            for numbers in arrays {
                let sent = packer.packing(.numbers(numbers))
                // What a client gets: the JSON text, whichever shape the stage chose.
                let received = try JSONParser.parse(sent.jsonText)
                let decoded: [Double]
                var allowed = 0.0
                if let packed = received.objectValue {
                    decoded = try ClientRebuilder.unpack(packed)
                    let scale = try XCTUnwrap(packed["scale"]?.numberValue)
                    allowed = scale / 2 + Double(width.largestQuantum) * scale.ulp + 4 * largest.ulp
                } else {
                    decoded = try XCTUnwrap(received.arrayValue).map { $0.numberValue ?? .nan }
                }
                XCTAssertEqual(decoded.count, numbers.count)
                for (value, original) in zip(decoded, numbers) {
                    XCTAssertTrue(value.isFinite, "\(width) \(numbers): \(original) decoded as \(value)")
                    XCTAssertLessThanOrEqual(abs(value - original), allowed, "\(width) \(numbers)")
                }
            }
        }
        // Where the top quantum decodes finite, such arrays are still packed.
        XCTAssertNotNil(NumericArrayPacker(width: .bits16, minimumLength: 2).pack([1e307, 5e307, largest]))
    }

    func testPacksOnlyLongAllNumberArraysAtAnyDepth() throws {
        let packer = NumericArrayPacker(width: .bits8, minimumLength: 4)
        let payload: JSONObject = [
            "short": .numbers([1.5, 2.5, 3.5]),
            "counts": [1, 2, 3, 300],
            "mixed": [1, 2, "three", 4, 5],
            "state": ["field": .numbers([0.1, 0.2, 0.3, 0.4])],
            "rows": [[1.5, 2.5, 3.5, 4.5], [1, 2]],
        ]
        let packed = packer.packing(payload)
        XCTAssertEqual(packed["short"], .numbers([1.5, 2.5, 3.5]))
        XCTAssertEqual(packed["mixed"], payload["mixed"])
        let counts = try XCTUnwrap(packed["counts"]?.objectValue)
        XCTAssertEqual(counts["scale"]?.numberValue, 299.0 / 255.0, "300 - 1 does not fit 8 bits, so whole numbers are scaled too")
        XCTAssertEqual(packed["state"]?["field"]?["packed"], "u8")
        let rows = try XCTUnwrap(packed["rows"]?.arrayValue)
        XCTAssertEqual(rows[0]["packed"], "u8")
        XCTAssertEqual(rows[1], [1, 2])
    }

    func testSmallWholeNumbersTravelExactly() throws {
        let numbers: [Double] = (0..<100).map { Double($0 * 3 % 200) + 1000 }
        let packed = try XCTUnwrap(NumericArrayPacker(width: .bits8, minimumLength: 64).pack(numbers))
        XCTAssertEqual(packed["scale"], 1.0)
        XCTAssertEqual(try ClientRebuilder.unpack(packed), numbers)
    }
}
