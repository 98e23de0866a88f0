import Foundation
import HyphaeTesting
import XCTest

final class TapCommandTests: XCTestCase {
    /// Each line of standard output as a JSON object.
    private func jsonLines(_ result: CommandResult, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        try result.outputLines.map { text in
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
            return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(text)", file: file, line: line)
        }
    }

    private func payloads(_ lines: [[String: Any]]) -> [[String: Any]] {
        lines.compactMap { $0["payload"] as? [String: Any] }
    }

    func testFramesPrintsThatManyJSONLines() throws {
        let result = try runHyphae(["tap", "ticker", "--frames", "3"])
        XCTAssertEqual(result.status, 0, result.description)
        let lines = try jsonLines(result)
        XCTAssertEqual(lines.count, 3, result.description)
        XCTAssertEqual(lines.compactMap { $0["type"] as? String }, ["tick", "tick", "tick"])
        XCTAssertEqual(payloads(lines).compactMap { $0["sequence"] as? Int }, [0, 1, 2])
        XCTAssertEqual(payloads(lines).compactMap { $0["count"] as? Int }, [1, 2, 3])
        XCTAssertTrue(lines.allSatisfy { $0["stream_id"] == nil }, "no stream_id unless one is given")
    }

    func testAFiniteFilePrintsItsCountThenExits() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("finite.yaml", """
            name: finite
            source:
              type: ticker
              rate: 0
              count: 4
              message_type: step
            sinks:
              - type: websocket
                path: /ws/finite
            """)
        let result = try runHyphae(["tap", path])
        XCTAssertEqual(result.status, 0, result.description)
        let lines = try jsonLines(result)
        XCTAssertEqual(payloads(lines).compactMap { $0["count"] as? Int }, [1, 2, 3, 4])
        XCTAssertEqual(lines.compactMap { $0["type"] as? String }, Array(repeating: "step", count: 4))
    }

    func testParamsAndStreamID() throws {
        let result = try runHyphae(["tap", "ticker", "--frames", "2", "--param", "payload_bytes=5", "--param", "rate=1000", "--stream-id", "s\"1"])
        XCTAssertEqual(result.status, 0, result.description)
        let lines = try jsonLines(result)
        XCTAssertEqual(lines.compactMap { $0["stream_id"] as? String }, ["s\"1", "s\"1"])
        XCTAssertEqual(payloads(lines).compactMap { $0["data"] as? String }, ["xxxxx", "xxxxx"])
    }

    func testBadParamsAreRefusedWithAClearMessage() throws {
        let cases: [(argument: String, message: String)] = [
            ("rate=abc", "param 'rate': expected a number from 0.1 to 1000, found 'abc'"),
            ("rate=0", "param 'rate': expected a number from 0.1 to 1000, found 0.0"),
            ("rat=3", "'ticker' has no param 'rat'; did you mean 'rate'? (allowed: rate, payload_bytes)"),
            ("rate", "The value 'rate' is invalid for '--param <name=value>': expected name=value, e.g. --param rate=5"),
        ]
        for (argument, message) in cases {
            let result = try runHyphae(["tap", "ticker", "--frames", "1", "--param", argument])
            XCTAssertNotEqual(result.status, 0, result.description)
            XCTAssertTrue(result.standardError.contains(message), "expected \"\(message)\" in\n\(result)")
            XCTAssertEqual(result.standardOutput, "", "no frames are printed")
        }
    }

    func testAnUnknownPipelineSuggestsTheNearest() throws {
        let result = try runHyphae(["tap", "tickr", "--frames", "1"])
        XCTAssertNotEqual(result.status, 0, result.description)
        XCTAssertTrue(result.standardError.contains("no pipeline named 'tickr' in pipelines; did you mean 'ticker'?"), result.description)
    }

    func testAnInvalidFileIsReportedNotRun() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("bad.yaml", "name: bad\nsource:\n  type: ticker\n  count: 0\nsinks:\n  - type: stdout\n")
        let result = try runHyphae(["tap", path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.errorLines.first, "\(path):4:10: error: source.count: expected an integer of at least 1, found '0'")
        XCTAssertEqual(result.standardOutput, "")
    }

    func testFramesMustBePositive() throws {
        let result = try runHyphae(["tap", "ticker", "--frames", "0"])
        XCTAssertNotEqual(result.status, 0, result.description)
        XCTAssertTrue(result.standardError.contains("--frames must be at least 1"), result.description)
    }
}

final class StagesAndHelpTests: XCTestCase {
    func testStagesListsEveryTypeWithItsFields() throws {
        let result = try runHyphae(["stages"])
        XCTAssertEqual(result.status, 0, result.description)
        let headers = result.outputLines.filter { !$0.hasPrefix(" ") }
        XCTAssertEqual(headers.map { String($0.prefix { $0 != ":" }) }, [
            "exec_source (source)", "feature_generator (source)", "redis_source (source)", "simulation (source)", "ticker (source)",
            "compress (transform)", "exec (transform)", "moving_average (transform)", "sample (transform)",
            "log (sink)", "redis (sink)", "stdout (sink)", "websocket (sink)",
        ])
        for line in [
            "  rate: float, from 0 to 1000000, default 10",
            "  count: int, of at least 1, optional",
            "  field: string, required",
            "  every: int, of at least 1, optional",
            "  level: string, one of: trace, debug, info, notice, warning, default info",
            "  path: string, required",
            "  backpressure: string, one of: drop_oldest, drop_newest, compress, close, block, default drop_oldest",
            "  queue_size: int, from 1 to 1000000, default 1000",
            "  batch_window_ms: int, from 0 to 1000, default 0",
        ] {
            XCTAssertTrue(result.outputLines.contains(line), "missing \"\(line)\" in\n\(result.standardOutput)")
        }
    }

    func testStagesForOneType() throws {
        let result = try runHyphae(["stages", "sample"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(result.outputLines.first, "sample (transform): keeps every N-th frame, or at most R frames per second (the latest); never drops essential frames")
        XCTAssertEqual(result.outputLines.filter { !$0.hasPrefix(" ") }.count, 1)
        let typo = try runHyphae(["stages", "sampel"])
        XCTAssertNotEqual(typo.status, 0)
        XCTAssertTrue(typo.standardError.contains("unknown stage type 'sampel'; did you mean 'sample'?"), typo.description)
    }

    func testHelpNamesEveryCommand() throws {
        let result = try runHyphae(["--help"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertTrue(result.standardOutput.contains("A stream host"), result.description)
        for command in ["serve", "validate", "tap", "stages"] {
            XCTAssertTrue(result.standardOutput.contains("  \(command) "), "help does not list \(command)\n\(result)")
        }
        let validate = try runHyphae(["validate", "--help"])
        XCTAssertEqual(validate.status, 0)
        XCTAssertTrue(validate.standardOutput.contains("file:line:column: error:"), validate.description)
        XCTAssertTrue(validate.standardOutput.contains("--strict"), validate.description)
        let tap = try runHyphae(["help", "tap"])
        XCTAssertEqual(tap.status, 0)
        XCTAssertTrue(tap.standardOutput.contains("--param <name=value>"), tap.description)
    }

    func testVersion() throws {
        let result = try runHyphae(["--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.outputLines, ["0.1.0"])
    }
}
