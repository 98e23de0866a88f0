import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeTesting
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP reads the certificate and key again: a connection opened before keeps
/// streaming on its old certificate, a new one gets the new certificate, and bad
/// files leave the old certificate serving.
final class TLSReloadTests: XCTestCase {
    func testSIGHUPSwapsTheCertificateForNewConnectionsOnly() async throws {
        let authorityA = try TestCertificateAuthority(name: "Hyphae reload CA A")
        let authorityB = try TestCertificateAuthority(name: "Hyphae reload CA B")
        let issuedA = try authorityA.issueServerCertificate()
        let issuedB = try authorityB.issueServerCertificate()
        let trustA = try ClientTLS.trusting(certificatesIn: authorityA.certificateFile)
        let trustB = try ClientTLS.trusting(certificatesIn: authorityB.certificateFile)

        let pipelines = try TemporaryFolder()
        try pipelines.write("ticker.yaml", PipelineFixtures.ticker)
        let secrets = try TemporaryFolder()
        let certificatePath = secrets.url.appendingPathComponent("host.pem").path
        let keyPath = secrets.url.appendingPathComponent("host.key").path
        try install(issuedA, certificate: certificatePath, key: keyPath)

        let serve = try ReloadServeProcess(
            arguments: [
                "serve", "--port", "0", "--pipelines", pipelines.url.path, "--log-format", "json",
                "--tls-cert", certificatePath, "--tls-key", keyPath,
            ],
            environment: ["MFN_ENV": "dev", "MFN_API_KEY": "", "MFN_API_KEYS": ""]
        )
        defer { serve.terminate() }
        let port = try await serve.waitForPort()
        XCTAssertTrue(serve.standardError.contains("on wss://127.0.0.1:\(port)"), serve.standardError)
        try await assertServedCertificate(port: port, isSignedBy: authorityA)

        let before = try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: "/ws/ticker", tls: trustA)
        try await before.subscribeSucceeding("before", params: ["rate": 100])
        var sequences = try await before.frames("before", count: 5).compactMap(\.sequence)

        // New files, then SIGHUP.
        try install(issuedB, certificate: certificatePath, key: keyPath)
        XCTAssertEqual(kill(serve.processIdentifier, SIGHUP), 0)
        try await serve.waitForLog { $0.contains(#""event":"tls_reload""#) && $0.contains(#""result":"success""#) }

        sequences += try await before.frames("before", count: 10).compactMap(\.sequence)
        XCTAssertEqual(try missingSequences(sequences), 0, "the connection opened before the reload streams on: \(sequences)")
        try await assertServedCertificate(port: port, isSignedBy: authorityB)
        do {
            _ = try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: "/ws/ticker", tls: trustA)
            XCTFail("a new connection must get the new certificate, which CA A did not sign")
        } catch {
            XCTAssertTrue("\(error)".contains("TLS handshake"), "\(error)")
        }
        let after = try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: "/ws/ticker", tls: trustB)
        try await after.subscribeSucceeding("after", params: ["rate": 100])
        _ = try await after.frames("after", count: 3)

        // Bad files: logged, and the certificate from B goes on serving.
        try "not a certificate\n".write(toFile: certificatePath, atomically: true, encoding: .utf8)
        XCTAssertEqual(kill(serve.processIdentifier, SIGHUP), 0)
        try await serve.waitForLog { $0.contains(#""event":"tls_reload""#) && $0.contains(#""result":"failed""#) && $0.contains("holds no PEM certificate") }
        try await assertServedCertificate(port: port, isSignedBy: authorityB)
        try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: "/ws/heartbeat", tls: trustB).assertAlive("a failed certificate reload")
        sequences += try await before.frames("before", count: 5).compactMap(\.sequence)
        XCTAssertEqual(try missingSequences(sequences), 0, "\(sequences)")
        XCTAssertTrue(serve.isRunning)

        XCTAssertEqual(kill(serve.processIdentifier, SIGTERM), 0)
        let status = try await serve.waitForExit()
        XCTAssertEqual(status, 0, serve.standardError)
    }

    /// Copies a certificate and key into place as an operator's deploy would: each
    /// written beside its target and renamed over it.
    private func install(_ issued: TestCertificateAuthority.ServerCertificate, certificate: String, key: String) throws {
        for (source, target) in [(issued.keyFile, key), (issued.certificateFile, certificate)] {
            let text = try String(contentsOfFile: source, encoding: .utf8)
            try text.write(toFile: target, atomically: true, encoding: .utf8)
        }
    }

    /// Asks `openssl s_client` which chain the host presents to a new connection.
    private func assertServedCertificate(
        port: Int, isSignedBy authority: TestCertificateAuthority, file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        let openssl = try TestCertificateAuthority.opensslExecutable()
        let result = try runProgram(openssl, [
            "s_client", "-connect", "127.0.0.1:\(port)", "-showcerts", "-CAfile", authority.certificateFile, "-verify_return_error",
        ], timeout: 20)
        XCTAssertEqual(result.status, 0, result.description, file: file, line: line)
        XCTAssertTrue(result.standardOutput.contains(authority.name), "the served certificate should be issued by \(authority.name)\n\(result)", file: file, line: line)
        XCTAssertTrue(result.standardOutput.contains("Verify return code: 0 (ok)"), result.description, file: file, line: line)
    }
}
