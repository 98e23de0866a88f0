import Foundation
import HyphaeTesting
import XCTest

/// permessage-deflate (RFC 7692) from real clients against a real `hyphae serve`:
/// Tests/clients/permessage_deflate_check.py drives a raw client that sees RSV1 and the
/// bytes, the `websockets` package (which offers the extension by default) and the
/// same package with compression off. What it checks is listed at its top; it exits 1
/// with the reason when a check fails.
final class PermessageDeflateTests: XCTestCase {
    private let apiKey = "deflate-test-key-51c2"

    func testCompressedAndPlainClientsDecodeTheSameFramesAndABombIsClosedWith1009() throws {
        guard let python = executableOnPath("python3") else {
            throw ClientProgramError("python3 is not on the PATH; run ./test.sh, which sets up .venv-tests with the websockets module and puts it first on the PATH")
        }
        let script = PackagePaths.root.appendingPathComponent("Tests/clients/permessage_deflate_check.py").path
        let pipelines = PackagePaths.root.appendingPathComponent("pipelines").path
        let host = try RunningHost(
            arguments: ["--pipelines", pipelines],
            environment: ["MFN_ENV": "dev", "MFN_API_KEY": apiKey, "MFN_API_KEYS": ""]
        )
        let result = try runProgram(python, [script, "127.0.0.1", "\(host.port)", apiKey], timeout: 120)
        XCTAssertEqual(result.status, 0, "\(result)\n\(host.log.suffix(4000))")
        let summary = try XCTUnwrap(result.outputLines.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }, result.description)
        let plain = try XCTUnwrap(summary["plain_bytes_per_frame"] as? Double)
        let compressed = try XCTUnwrap(summary["compressed_bytes_per_frame"] as? Double)
        XCTAssertLessThan(compressed, plain, "a feature frame is smaller compressed: \(summary)")
    }
}
