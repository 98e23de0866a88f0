import Foundation
import HyphaeHost
import Logging
import Synchronization
import XCTest

/// Collects what the log handler writes.
private final class CollectedLines: Sendable {
    private let bytes = Mutex<[UInt8]>([])

    var output: LogOutput {
        LogOutput { line in self.bytes.withLock { $0 += line } }
    }

    var text: String {
        bytes.withLock { String(decoding: $0, as: UTF8.self) }
    }
}

final class TextLogFormatTests: XCTestCase {
    /// 2026-11-27T21:10:00.123Z
    private let fixedTime = 1_795_813_800_123.0

    private func log(_ message: Logger.Message, _ metadata: Logger.Metadata, level: Logger.Level = .info) -> String {
        let lines = CollectedLines()
        let time = fixedTime
        let logger = Logger(label: "test") { label in LineLogHandler(label: label, format: TextLogFormat(), output: lines.output, clock: { time }) }
        logger.log(level: level, message, metadata: metadata)
        return lines.text
    }

    func testALineHasTimeLevelMessageAndSortedFields() {
        XCTAssertEqual(
            log("connection opened", ["path": "/ws", "event": "connection_opened"]),
            "2026-11-27T21:10:00.123Z info     connection opened event=connection_opened path=/ws\n")
        XCTAssertEqual(
            log("slow", [:], level: .critical),
            "2026-11-27T21:10:00.123Z critical slow\n")
    }

    func testValuesWithSpacesQuotesOrBackslashesAreQuoted() {
        let line = log("m", ["a": "two words", "b": #"say "hi""#, "c": #"C:\dir"#, "d": "", "e": "plain-word_1.5"])
        XCTAssertEqual(line, #"2026-11-27T21:10:00.123Z info     m a="two words" b="say \"hi\"" c="C:\\dir" d="" e=plain-word_1.5"# + "\n")
    }

    func testClientStringsCannotBreakOrDisguiseTheLine() {
        let hostile = "id\nfake=1 2026-11-27T00:00:00.000Z error forged\r\t\u{1B}[31m\u{202E}txt\u{2028}end"
        let line = log("subscribed \(hostile)", ["stream_id": .string(hostile)])
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1, "one record, one line: \(line)")
        XCTAssertTrue(line.hasSuffix("\n"))
        let escaped = #"id\nfake=1 2026-11-27T00:00:00.000Z error forged\r\t\u{1b}[31m\u{202e}txt\u{2028}end"#
        XCTAssertEqual(line, "2026-11-27T21:10:00.123Z info     subscribed \(escaped) stream_id=\"\(escaped)\"\n")
        for scalar in line.unicodeScalars.dropLast() {
            XCTAssertFalse(scalar.properties.generalCategory == .control, "a raw control character U+\(String(scalar.value, radix: 16)) in \(line)")
        }
    }

    func testNestedAndConvertibleValuesAreWrittenAsText() {
        let line = log("m", ["list": ["a", "b c"], "count": .stringConvertible(42)])
        XCTAssertEqual(line, #"2026-11-27T21:10:00.123Z info     m count=42 list="[a, b c]""# + "\n")
    }

    func testTheHandlersOwnMetadataIsOverriddenByTheRecords() {
        let lines = CollectedLines()
        let time = fixedTime
        var logger = Logger(label: "test") { label in LineLogHandler(label: label, format: TextLogFormat(), output: lines.output, clock: { time }) }
        logger[metadataKey: "connection"] = "7"
        logger[metadataKey: "event"] = "default"
        logger.info("m", metadata: ["event": "own"])
        XCTAssertEqual(lines.text, "2026-11-27T21:10:00.123Z info     m connection=7 event=own\n")
    }
}

final class JSONLogFormatTests: XCTestCase {
    private func record(_ metadata: Logger.Metadata) throws -> [String: Any] {
        let lines = CollectedLines()
        let logger = Logger(label: "test") { label in LineLogHandler(label: label, format: JSONLogFormat(), output: lines.output, clock: { 1_795_813_800_123.5 }) }
        logger.info("a message", metadata: metadata)
        let text = lines.text
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1, text)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testStringsStayStringsWhateverTheyLookLike() throws {
        let object = try record(["stream_id": "123", "ratio": "1.5", "flag": "true", "name": "abc"])
        XCTAssertEqual(object["stream_id"] as? String, "123")
        XCTAssertEqual(object["ratio"] as? String, "1.5")
        XCTAssertEqual(object["flag"] as? String, "true")
        XCTAssertEqual(object["name"] as? String, "abc")
    }

    func testNumbersAndBooleansLoggedAsSuchStayTyped() throws {
        let object = try record(["count": .stringConvertible(42), "share": .stringConvertible(0.25), "on": .stringConvertible(true), "huge": .stringConvertible(UInt64.max)])
        XCTAssertEqual(object["count"] as? Int, 42)
        XCTAssertEqual(object["share"] as? Double, 0.25)
        XCTAssertEqual(object["on"] as? Bool, true)
        XCTAssertEqual(object["huge"] as? String, "18446744073709551615", "too large for the JSON integer: its digits, as text")
    }

    func testTheRecordCarriesLevelLoggerAndMessage() throws {
        let object = try record(["event": "x"])
        XCTAssertEqual(object["level"] as? String, "info")
        XCTAssertEqual(object["logger"] as? String, "test")
        XCTAssertEqual(object["message"] as? String, "a message")
        XCTAssertEqual(object["timestamp"] as? Double, 1_795_813_800_123.5)
    }
}
