import Foundation
import HyphaeTesting
import XCTest

/// `--param` is one option with one syntax on every command that takes it.
final class ParamArgumentsTests: XCTestCase {
    /// The same arguments before `--param`, for each command; nothing here gets to run,
    /// since the command line is refused before any connection or pipeline run.
    private let commands: [[String]] = [
        ["tap", "ticker", "--frames", "1"],
        ["subscribe", "ws://127.0.0.1:1/ws", "--pipeline", "ticker"],
        ["bench", "run", "--port", "1"],
    ]

    func testAMissingNameOrEqualsSignIsTheSameUsageErrorEverywhere() throws {
        for command in commands {
            for argument in ["rate", "=5"] {
                let result = try runHyphae(command + ["--param", argument])
                XCTAssertEqual(result.status, 64, "a usage error: \(result)")
                XCTAssertTrue(
                    result.standardError.contains("The value '\(argument)' is invalid for '--param <name=value>': expected name=value, e.g. --param rate=5"),
                    result.description)
                XCTAssertTrue(result.standardError.contains("Usage:"), result.description)
                XCTAssertEqual(result.standardOutput, "")
            }
        }
    }

    func testAParamGivenTwiceIsRefusedEverywhere() throws {
        for command in commands {
            let result = try runHyphae(command + ["--param", "rate=5", "--param", "rate=6"])
            XCTAssertEqual(result.status, 64, result.description)
            XCTAssertTrue(result.standardError.contains("--param 'rate' is given more than once; give each param once"), result.description)
        }
    }

    func testAValueMayBeEmptyOrContainEqualsSigns() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("labelled.yaml", """
            name: labelled
            params:
              label: { type: string, default: tick }
              note: { type: string, default: "" }
            source:
              type: ticker
              rate: 0
              count: 1
              message_type: ${label}
            sinks:
              - type: stdout
            """)
        let result = try runHyphae(["tap", path, "--param", "label=a=b", "--param", "note="])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(result.outputLines.count, 1, result.description)
        XCTAssertTrue(result.standardOutput.contains(#""type":"a=b""#), result.description)
    }

    func testTheHelpOfEachCommandDescribesParamsTheSameWay() throws {
        // A wide terminal, so that the help's sentences are not wrapped.
        let helps = try commands.map { command in
            try runHyphae(Array(command.prefix(command[0] == "bench" ? 2 : 1)) + ["--help"], environment: ["COLUMNS": "1000"])
        }
        for help in helps {
            XCTAssertEqual(help.status, 0, help.description)
            XCTAssertTrue(help.standardOutput.contains("--param <name=value>"), help.description)
            XCTAssertTrue(help.standardOutput.contains("read as JSON when it parses, else as text"), help.description)
        }
    }
}
