import Foundation
import HyphaeTesting
import XCTest

/// `hyphae serve`: how it refuses to start, and the log settings.
final class ServeCommandTests: XCTestCase {
    private let noKeys = ["MFN_ENV": "dev", "MFN_API_KEY": "", "MFN_API_KEYS": "", "MFN_API_KEY_REQUIRED": ""]

    func testProdWithoutKeysIsARuntimeFailureWithStatusOne() throws {
        let result = try runHyphae(
            ["serve", "--port", "0"],
            environment: ["MFN_ENV": "prod", "MFN_API_KEY": "", "MFN_API_KEYS": "", "MFN_API_KEY_REQUIRED": ""],
            timeout: 20)
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.errorLines, [
            "error: MFN_ENV is prod and API keys are required, but none is configured: set MFN_API_KEY=<key> (or MFN_API_KEYS=<key1>,<key2>), or list them under 'api_keys' in the host config file",
        ])
    }

    func testAnUnknownLogLevelIsAUsageErrorListingTheLevels() throws {
        let result = try runHyphae(["serve", "--port", "0", "--log-level", "loud"], environment: noKeys, timeout: 20)
        XCTAssertEqual(result.status, 64, result.description)
        XCTAssertTrue(result.standardError.contains("The value 'loud' is invalid for '--log-level <log-level>'"), result.description)
        let choices = result.errorLines.filter { $0.hasPrefix("  - ") }.map { $0.dropFirst(4) }
        XCTAssertEqual(choices, ["trace", "debug", "info", "notice", "warning", "error", "critical"], result.description)
        XCTAssertFalse(result.standardError.contains("serving"), result.description)
    }

    func testAnUnknownLogLevelInTheConfigFileIsRefusedWithTheLevels() throws {
        let folder = try TemporaryFolder()
        let config = try folder.write("host.yaml", "log_level: loud\n")
        let result = try runHyphae(["serve", "--port", "0", "--config", config], environment: noKeys, timeout: 20)
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertTrue(result.standardError.contains("\(config):1:12: error:"), result.description)
        XCTAssertTrue(
            result.standardError.contains("log_level: expected one of 'trace', 'debug', 'info', 'notice', 'warning', 'error', 'critical', found 'loud'"),
            result.description)
    }

    func testTheTextFormatWritesOneReadableLinePerRecord() throws {
        // `RunningHost` asks for JSON; a later --log-format wins.
        let host = try RunningHost(arguments: ["--log-format", "text"], environment: noKeys)
        let status = host.stop()
        XCTAssertEqual(status, 0, host.log)
        let listening = try XCTUnwrap(host.log.split(separator: "\n").first { $0.contains("event=listening") }, host.log)
        let pattern = #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info +listening address=127\.0\.0\.1:\d+ auth_required=false event=listening pipelines="#
        XCTAssertNotNil(listening.range(of: pattern, options: .regularExpression), String(listening))
        XCTAssertFalse(host.log.contains(#"{"timestamp""#), host.log)
    }

    func testAutoWritesJSONWhenStandardErrorIsNotATerminal() throws {
        let host = try RunningHost(arguments: ["--log-format", "auto"], environment: noKeys)
        host.stop()
        let listening = try XCTUnwrap(host.log.split(separator: "\n").first { $0.contains("\"listening\"") }, host.log)
        let object = try JSONSerialization.jsonObject(with: Data(listening.utf8)) as? [String: Any]
        XCTAssertEqual(object?["event"] as? String, "listening", String(listening))
    }
}
