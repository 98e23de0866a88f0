import Foundation
import HyphaeCore
import HyphaeProtocol
import XCTest

final class AuthSignatureTests: XCTestCase {
    /// PROTOCOL.md's worked example, checked there with openssl.
    func testDocumentedVector() {
        XCTAssertEqual(
            AuthSignature.hex(apiKey: "k1", timestamp: 1_764_756_000_123),
            "780e1302ab3e28fb5d0688ab93da81ff683f8b6d5359a12397ff52018d4526bf")
    }

    func testSentTimestampSignsItsIntegerPart() {
        let seconds = AuthSignature.hex(apiKey: "k1", timestamp: 1_764_756_000)
        XCTAssertEqual(AuthSignature.hex(apiKey: "k1", sentTimestamp: 1_764_756_000.9), seconds)
        XCTAssertEqual(AuthSignature.hex(apiKey: "k1", sentTimestamp: 1_764_756_000), seconds)
    }

    func testTimestampsNoClientCouldSignHaveNoSignature() {
        XCTAssertNil(AuthSignature.hex(apiKey: "k1", sentTimestamp: 1e300))
        XCTAssertNil(AuthSignature.hex(apiKey: "k1", sentTimestamp: .infinity))
        XCTAssertNil(AuthSignature.hex(apiKey: "k1", sentTimestamp: .nan))
    }

    func testAuthPayloadCarriesTheSignatureOnlyWhenSigned() {
        let unsigned = AuthSignature.authPayload(apiKey: "k1", timestamp: 1_764_756_000_123, signed: false)
        XCTAssertEqual(unsigned["api_key"], .string("k1"))
        XCTAssertEqual(unsigned["timestamp"], .int(1_764_756_000_123))
        XCTAssertNil(unsigned["signature"])
        let signed = AuthSignature.authPayload(apiKey: "k1", timestamp: 1_764_756_000_123, signed: true)
        XCTAssertEqual(signed["signature"], .string("780e1302ab3e28fb5d0688ab93da81ff683f8b6d5359a12397ff52018d4526bf"))
    }
}

/// Tests/vectors/auth.json, which hyphae.js's tests check too (in Chromium): both clients
/// must sign byte for byte as the host checks.
final class SharedAuthVectorTests: XCTestCase {
    func testTheSharedVectors() throws {
        var folder = URL(fileURLWithPath: #filePath)
        for _ in 0..<2 { folder.deleteLastPathComponent() }
        let text = try Data(contentsOf: folder.appendingPathComponent("vectors/auth.json"))
        let cases = try XCTUnwrap(try JSONParser.parse(Array(text)).objectValue?["cases"]?.arrayValue)
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for vector in cases {
            let name = vector["name"]?.stringValue ?? "?"
            let key = try XCTUnwrap(vector["api_key"]?.stringValue, name)
            let timestamp = try XCTUnwrap(vector["timestamp"]?.numberValue, name)
            let expected = try XCTUnwrap(vector["signature"]?.stringValue, name)
            XCTAssertEqual(AuthSignature.hex(apiKey: key, sentTimestamp: timestamp), expected, name)
            XCTAssertEqual(vector["signed_text"]?.stringValue, String(Int64(timestamp.rounded(.towardZero))), name)
        }
    }
}
