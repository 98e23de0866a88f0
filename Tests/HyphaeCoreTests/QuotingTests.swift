import HyphaeCore
import XCTest

/// `prefix(utf8Bytes:)`: quotes of input bounded in bytes, never splitting a scalar.
final class QuotingTests: XCTestCase {
    func testShortTextIsKeptWhole() {
        XCTAssertEqual("subscribe".prefix(utf8Bytes: 64), "subscribe")
        XCTAssertEqual("".prefix(utf8Bytes: 0), "")
        XCTAssertEqual("abc".prefix(utf8Bytes: 3), "abc")
    }

    func testLongTextIsCutAtTheBound() {
        XCTAssertEqual("abcdef".prefix(utf8Bytes: 4), "abcd")
        XCTAssertEqual("abc".prefix(utf8Bytes: 0), "")
        XCTAssertEqual("abc".prefix(utf8Bytes: -5), "")
    }

    func testAMultiByteScalarIsNeverSplit() {
        // "é" is 2 bytes, "€" 3, "😀" 4: a cut inside one leaves it out.
        XCTAssertEqual("aé".prefix(utf8Bytes: 2), "a")
        XCTAssertEqual("a€".prefix(utf8Bytes: 3), "a")
        XCTAssertEqual("a😀b".prefix(utf8Bytes: 4), "a")
        XCTAssertEqual("a😀b".prefix(utf8Bytes: 5), "a😀")
    }

    func testOneHeavyCharacterIsBoundedInBytes() {
        let heavy = "a" + String(repeating: "\u{0301}", count: 10_000)
        XCTAssertEqual(heavy.count, 1, "one character")
        let quoted = heavy.prefix(utf8Bytes: 100)
        XCTAssertLessThanOrEqual(quoted.utf8.count, 100)
        XCTAssertGreaterThanOrEqual(quoted.utf8.count, 99)
        XCTAssertEqual(quoted.unicodeScalars.first, "a")
    }

    func testASubstringQuotesItsOwnBytes() {
        let text = "xxhello world"
        let tail = text.dropFirst(2)
        XCTAssertEqual(tail.prefix(utf8Bytes: 5), "hello")
    }
}
