import Foundation
import HyphaeTesting
import XCTest

/// `hyphae serve`: how it refuses to start.
final class ServeCommandTests: XCTestCase {
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
}
