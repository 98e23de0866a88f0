import Foundation
import HyphaeTesting
#if canImport(Glibc)
import Glibc
#endif
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
        let pattern = #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info +listening address=127\.0\.0\.1:\d+ auth_required=false direct_writes=true event=listening pipelines="#
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

    func testAnAdminPortInUseIsARuntimeFailureNamingTheFlag() throws {
        let occupant = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(occupant) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(occupant, $0, length) == 0 && listen(occupant, 1) == 0 && getsockname(occupant, $0, &length) == 0 }
        }
        XCTAssertTrue(bound, "could not take a port for the test")
        let port = Int(UInt16(bigEndian: address.sin_port))
        let result = try runHyphae(["serve", "--port", "0", "--admin-port", "\(port)"], environment: noKeys.merging(["HYPHAE_ADMIN_KEY": "k"]) { $1 }, timeout: 20)
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertTrue(result.standardError.contains("error: cannot listen for the admin API on 127.0.0.1:\(port)"), result.description)
        XCTAssertTrue(result.standardError.contains("--admin-host/--admin-port"), result.description)
        XCTAssertFalse(result.standardError.contains(" serving "), result.description)
    }

    func testAdminFlagsAndTrustedAddressesAreChecked() throws {
        let withoutKey = try runHyphae(["serve", "--port", "0", "--admin-port", "0"], environment: noKeys.merging(["HYPHAE_ADMIN_KEY": ""]) { $1 }, timeout: 20)
        XCTAssertEqual(withoutKey.status, 1, withoutKey.description)
        XCTAssertTrue(withoutKey.standardError.contains("which is off without a key"), withoutKey.description)
        let hostOnly = try runHyphae(["serve", "--port", "0", "--admin-host", "127.0.0.1"], environment: noKeys.merging(["HYPHAE_ADMIN_KEY": "k"]) { $1 }, timeout: 20)
        XCTAssertEqual(hostOnly.status, 1, hostOnly.description)
        XCTAssertTrue(hostOnly.standardError.contains("--admin-host needs an admin port"), hostOnly.description)
        let badBlock = try runHyphae(["serve", "--port", "0", "--trusted-address", "10.0.0.1/8"], environment: noKeys, timeout: 20)
        XCTAssertEqual(badBlock.status, 64, badBlock.description)
        XCTAssertTrue(badBlock.standardError.contains("did you mean 10.0.0.0/8?"), badBlock.description)
    }
}
