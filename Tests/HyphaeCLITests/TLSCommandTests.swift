import Foundation
import HyphaeTesting
import XCTest

/// `hyphae serve --tls-cert --tls-key` as a process: how it refuses to start, and
/// `hyphae subscribe wss://... --ca-file` against it.
final class TLSCommandTests: XCTestCase {
    private let noKeys = ["MFN_ENV": "dev", "MFN_API_KEY": "", "MFN_API_KEYS": "", "MFN_API_KEY_REQUIRED": ""]

    /// A host in dev without keys, serving the client pipelines over TLS only.
    private func tlsHost(_ certificate: TestCertificateAuthority.ServerCertificate) throws -> (RunningHost, TemporaryFolder) {
        let folder = try ClientTestPipelines.folder()
        let host = try RunningHost(
            arguments: ["--pipelines", folder.url.path, "--tls-cert", certificate.certificateFile, "--tls-key", certificate.keyFile],
            environment: noKeys)
        return (host, folder)
    }

    func testHalfAPairIsRefused() throws {
        let authority = try TestCertificateAuthority()
        let issued = try authority.issueServerCertificate()
        // On the command line: a usage error.
        let flag = try runHyphae(["serve", "--port", "0", "--tls-cert", issued.certificateFile], environment: noKeys, timeout: 20)
        XCTAssertEqual(flag.status, 64, flag.description)
        XCTAssertTrue(flag.standardError.contains("--tls-cert and --tls-key go together"), flag.description)

        // In the config file: refused before listening, with status 1.
        let folder = try TemporaryFolder()
        let config = try folder.write("host.yaml", "tls_key: \(issued.keyFile)\n")
        let file = try runHyphae(["serve", "--port", "0", "--config", config], environment: noKeys, timeout: 20)
        XCTAssertEqual(file.status, 1, file.description)
        XCTAssertTrue(file.standardError.contains("a TLS certificate needs its private key: give both --tls-cert and --tls-key (tls_cert and tls_key in the host config file)"), file.description)
        XCTAssertFalse(file.standardError.contains("serving"), file.description)
    }

    func testAnUnreadableFileStopsTheStartWithStatusOne() throws {
        let authority = try TestCertificateAuthority()
        let issued = try authority.issueServerCertificate()
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("hyphae-no-such-\(UUID().uuidString).pem").path
        let result = try runHyphae(["serve", "--port", "0", "--tls-cert", missing, "--tls-key", issued.keyFile], environment: noKeys, timeout: 20)
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.errorLines.last, "error: the TLS certificate file \(missing) does not exist; check the path given to --tls-cert (a relative path starts from the folder hyphae runs in)", result.description)
        XCTAssertFalse(result.standardError.contains("Usage:"), result.description)
    }

    func testTheConfigFileNamesTheFiles() throws {
        let authority = try TestCertificateAuthority()
        let issued = try authority.issueServerCertificate()
        let folder = try ClientTestPipelines.folder()
        let config = try folder.write("host.yaml", "tls_cert: \(issued.certificateFile)\ntls_key: \(issued.keyFile)\npipelines: \(folder.url.path)\n")
        let host = try RunningHost(arguments: ["--config", config], environment: noKeys)
        XCTAssertTrue(host.log.contains("on wss://127.0.0.1:\(host.port)"), host.log)
        XCTAssertTrue(host.logContains(#""tls":"true""#), host.log)
        let result = try runHyphae([
            "subscribe", "wss://localhost:\(host.port)/ws", "--ca-file", authority.certificateFile, "--pipeline", "ticker", "--param", "rate=200", "--frames", "2",
        ], environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(result.status, 0, result.description)
    }

    func testSubscribeReadsAWSSStreamTrustingTheCAFile() throws {
        let authority = try TestCertificateAuthority()
        let (host, folder) = try tlsHost(authority.issueServerCertificate())
        defer { withExtendedLifetime(folder) {} }
        let url = "wss://127.0.0.1:\(host.port)/ws"

        let result = try runHyphae([
            "subscribe", url, "--ca-file", authority.certificateFile, "--pipeline", "ticker", "--param", "rate=200", "--frames", "3",
        ], environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(result.status, 0, result.description)
        let messages = result.outputLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let frames = messages.filter { $0["type"] as? String == "tick" }
        XCTAssertEqual(frames.compactMap { ($0["payload"] as? [String: Any])?["sequence"] as? Int }, [0, 1, 2], result.description)

        // Without the CA file the system's CAs are asked, and none signed this certificate.
        let untrusted = try runHyphae(["subscribe", url, "--pipeline", "ticker", "--frames", "1"], environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(untrusted.status, 1, untrusted.description)
        XCTAssertTrue(untrusted.standardError.contains("the TLS handshake with 127.0.0.1:\(host.port) failed"), untrusted.description)
        XCTAssertTrue(untrusted.standardError.contains("give its CA certificate with --ca-file"), untrusted.description)
        // The host's side of it, for the operator.
        XCTAssertTrue(host.logContains(#""event":"tls_handshake_failed""#), host.log)

        // A CA file means nothing to plain ws://.
        let plain = try runHyphae(["subscribe", "ws://127.0.0.1:\(host.port)/ws", "--ca-file", authority.certificateFile], environment: ["MFN_API_KEY": ""], timeout: 20)
        XCTAssertEqual(plain.status, 64, plain.description)
        XCTAssertTrue(plain.standardError.contains("--ca-file is for wss:// URLs"), plain.description)

        // And plain ws:// to the TLS port is refused by the host, with a reason.
        let refused = try runHyphae(["subscribe", "ws://127.0.0.1:\(host.port)/ws", "--pipeline", "ticker"], environment: ["MFN_API_KEY": ""], timeout: 20)
        XCTAssertEqual(refused.status, 1, refused.description)
        XCTAssertTrue(refused.standardError.contains("400"), refused.description)
        XCTAssertTrue(host.logContains(#""event":"tls_plaintext_refused""#), host.log)
    }

    func testAnExpiredCertificateIsServedWithAWarning() throws {
        let authority = try TestCertificateAuthority()
        let (host, folder) = try tlsHost(authority.issueServerCertificate(days: -1))
        defer { withExtendedLifetime(folder) {} }
        XCTAssertTrue(host.logContains(#""event":"tls_certificate_expired""#), host.log)
        let result = try runHyphae(
            ["subscribe", "wss://127.0.0.1:\(host.port)/ws", "--ca-file", authority.certificateFile, "--pipeline", "ticker", "--frames", "1"],
            environment: ["MFN_API_KEY": ""], timeout: 60)
        XCTAssertEqual(result.status, 1, "a client that checks the dates refuses it\n\(result)")
        XCTAssertTrue(result.standardError.contains("CERTIFICATE_VERIFY_FAILED"), result.description)
    }
}
