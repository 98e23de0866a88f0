import Foundation
import HyphaeTesting
import XCTest

/// Runs Docs/examples/mfn_client.py against a real `hyphae serve`: the example
/// client, written for the old Python server's protocol, must work unchanged.
final class PythonExampleClientTests: XCTestCase {
    private let apiKey = "example-test-key-7f3a"

    private var clientScript: String {
        PackagePaths.root.appendingPathComponent("Docs/examples/mfn_client.py").path
    }

    /// python3 with `websockets`; a missing one fails the test rather than skipping it.
    private func python() throws -> URL {
        guard let python = executableOnPath("python3") else {
            throw ClientProgramError("python3 is not on the PATH; run ./test.sh, which sets up .venv-tests with the websockets module and puts it first on the PATH")
        }
        let check = try runProgram(python, ["-c", "import websockets; print(websockets.__version__)"])
        guard check.status == 0 else {
            throw ClientProgramError("the Python module 'websockets' is missing; run ./test.sh, which installs it into .venv-tests and puts that first on the PATH\n\(check)")
        }
        return python
    }

    /// Each line of standard output as a JSON object.
    private func frames(_ result: CommandResult, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        try result.outputLines.map { text in
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
            return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(text)", file: file, line: line)
        }
    }

    func testTheClientAuthenticatesWithASignatureAndPrintsTheFramesItAskedFor() throws {
        let python = try python()
        let folder = try ClientTestPipelines.folder()
        // Signatures required: an auth message without a correct HMAC would fail.
        let host = try RunningHost(
            arguments: ["--pipelines", folder.url.path],
            environment: ["MFN_ENV": "dev", "MFN_API_KEY": apiKey, "MFN_SIGNATURE_REQUIRED": "true", "MFN_API_KEYS": ""]
        )
        let result = try runProgram(python, [
            clientScript, "ws://127.0.0.1:\(host.port)/ws", "--stream", "ticker", "--param", "rate=50",
            "--frames", "5", "--stream-id", "py-1", "--api-key", apiKey,
        ], environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertTrue(result.standardError.contains("\"auth_required\": true"), result.description)
        XCTAssertTrue(result.standardError.contains("<- auth_success"), result.description)
        XCTAssertTrue(result.standardError.contains("<- subscribe_success"), result.description)
        XCTAssertTrue(result.standardError.contains("<- unsubscribe"), "the client unsubscribes and reads the counters\n\(result)")

        let lines = try frames(result)
        XCTAssertEqual(lines.count, 5, result.description)
        XCTAssertEqual(lines.compactMap { $0["type"] as? String }, Array(repeating: "tick", count: 5))
        XCTAssertEqual(lines.compactMap { $0["stream_id"] as? String }, Array(repeating: "py-1", count: 5))
        let payloads = lines.compactMap { $0["payload"] as? [String: Any] }
        XCTAssertEqual(payloads.compactMap { $0["sequence"] as? Int }, [0, 1, 2, 3, 4], result.description)
        XCTAssertEqual(payloads.compactMap { $0["count"] as? Int }, [1, 2, 3, 4, 5], result.description)
        XCTAssertEqual(payloads.compactMap { $0["stream_id"] as? String }, Array(repeating: "py-1", count: 5))
        XCTAssertTrue(host.logContains("\"auth_success\""), "the host logged the signed auth\n\(host.log)")
        XCTAssertFalse(host.log.contains(apiKey), "the key never reaches the log")
    }

    func testAFiniteStreamOnItsOwnPathEndsWithStreamEnd() throws {
        let python = try python()
        let folder = try ClientTestPipelines.folder()
        let host = try RunningHost(arguments: ["--pipelines", folder.url.path], environment: ["MFN_ENV": "dev", "MFN_API_KEY": apiKey, "MFN_API_KEYS": ""])
        // No --stream: the path names the pipeline. The key comes from MFN_API_KEY.
        let result = try runProgram(python, [
            clientScript, "ws://127.0.0.1:\(host.port)/ws/countdown", "--param", "count=3",
        ], environment: ["MFN_API_KEY": apiKey], timeout: 60)
        XCTAssertEqual(result.status, 0, result.description)
        let lines = try frames(result)
        XCTAssertEqual(lines.compactMap { $0["type"] as? String }, ["step", "step", "step"], result.description)
        XCTAssertEqual(lines.compactMap { ($0["payload"] as? [String: Any])?["count"] as? Int }, [1, 2, 3])
        XCTAssertTrue(result.standardError.contains("<- stream_end"), result.description)
        XCTAssertTrue(result.standardError.contains("\"reason\": \"complete\""), result.description)
    }

    func testRefusalsExitWithStatusOne() throws {
        let python = try python()
        let folder = try ClientTestPipelines.folder()
        let host = try RunningHost(arguments: ["--pipelines", folder.url.path], environment: ["MFN_ENV": "dev", "MFN_API_KEY": apiKey, "MFN_API_KEYS": ""])
        let url = "ws://127.0.0.1:\(host.port)/ws"

        let wrongKey = try runProgram(python, [clientScript, url, "--stream", "ticker", "--api-key", "not-the-key"], environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(wrongKey.status, 1, wrongKey.description)
        XCTAssertTrue(wrongKey.standardError.contains("auth_failed AUTH_FAILED"), wrongKey.description)

        let badParam = try runProgram(python, [clientScript, url, "--stream", "ticker", "--param", "rate=0", "--api-key", apiKey], environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(badParam.status, 1, badParam.description)
        XCTAssertTrue(badParam.standardError.contains("subscribe_failed SUBSCRIBE_ERROR"), badParam.description)
        XCTAssertEqual(badParam.standardOutput, "")
    }

    func testTheClientSpeaksWSSTrustingTheCAFile() throws {
        let python = try python()
        let folder = try ClientTestPipelines.folder()
        let authority = try TestCertificateAuthority(name: "Hyphae Python test CA")
        let issued = try authority.issueServerCertificate()
        let host = try RunningHost(
            arguments: ["--pipelines", folder.url.path, "--tls-cert", issued.certificateFile, "--tls-key", issued.keyFile],
            environment: ["MFN_ENV": "dev", "MFN_API_KEY": apiKey, "MFN_API_KEYS": ""]
        )
        let url = "wss://127.0.0.1:\(host.port)/ws"
        let result = try runProgram(python, [
            clientScript, url, "--ca-file", authority.certificateFile, "--stream", "ticker", "--param", "rate=50",
            "--frames", "3", "--stream-id", "py-tls", "--api-key", apiKey,
        ], environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertTrue(result.standardError.contains("<- auth_success"), result.description)
        let payloads = try frames(result).compactMap { $0["payload"] as? [String: Any] }
        XCTAssertEqual(payloads.compactMap { $0["sequence"] as? Int }, [0, 1, 2], result.description)

        // Python's own CAs do not include the tests' CA: the handshake fails, and the client says so.
        let untrusted = try runProgram(python, [clientScript, url, "--stream", "ticker", "--frames", "1", "--api-key", apiKey], environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(untrusted.status, 3, untrusted.description)
        XCTAssertTrue(untrusted.standardError.contains("CERTIFICATE_VERIFY_FAILED"), untrusted.description)
    }
}
