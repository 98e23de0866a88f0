import HyphaeHost
import XCTest

/// The `MFN_*` variables, read by `HostConfiguration.applyEnvironment`.
final class HostEnvironmentTests: XCTestCase {
    private func problems(_ variables: [String: String]) -> [String] {
        var configuration = HostConfiguration()
        do {
            try configuration.applyEnvironment(variables)
            return []
        } catch let error as HostConfigurationError {
            return error.problems
        } catch {
            return ["unexpected error: \(error)"]
        }
    }

    func testABadSignatureRequiredIsReportedNotReadAsFalse() {
        XCTAssertEqual(problems(["MFN_SIGNATURE_REQUIRED": "ture"]), ["MFN_SIGNATURE_REQUIRED is 'ture'; use true/1/yes or false/0/no"])
        XCTAssertEqual(problems(["MFN_SIGNATURE_REQUIRED": "on"]), ["MFN_SIGNATURE_REQUIRED is 'on'; use true/1/yes or false/0/no"])
    }

    func testABadAPIKeyRequiredIsReported() {
        XCTAssertEqual(problems(["MFN_API_KEY_REQUIRED": "maybe"]), ["MFN_API_KEY_REQUIRED is 'maybe'; use true/1/yes or false/0/no"])
    }

    func testBothBadValuesAreReportedTogether() {
        XCTAssertEqual(problems(["MFN_API_KEY_REQUIRED": "2", "MFN_SIGNATURE_REQUIRED": "y"]), [
            "MFN_API_KEY_REQUIRED is '2'; use true/1/yes or false/0/no",
            "MFN_SIGNATURE_REQUIRED is 'y'; use true/1/yes or false/0/no",
        ])
    }

    func testTheAcceptedSpellingsSetTheFlags() throws {
        for (text, expected) in [("true", true), ("1", true), ("YES", true), ("false", false), ("0", false), ("No", false)] {
            var configuration = HostConfiguration()
            configuration.signatureRequired = !expected
            configuration.apiKeyRequired = !expected
            try configuration.applyEnvironment(["MFN_SIGNATURE_REQUIRED": text, "MFN_API_KEY_REQUIRED": text])
            XCTAssertEqual(configuration.signatureRequired, expected, text)
            XCTAssertEqual(configuration.apiKeyRequired, expected, text)
        }
    }

    func testAnEmptyValueLeavesTheSettingAlone() throws {
        var configuration = HostConfiguration()
        configuration.signatureRequired = true
        try configuration.applyEnvironment(["MFN_SIGNATURE_REQUIRED": "", "MFN_API_KEY_REQUIRED": ""])
        XCTAssertTrue(configuration.signatureRequired)
        XCTAssertNil(configuration.apiKeyRequired)
    }
}
