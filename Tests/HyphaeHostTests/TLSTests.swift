import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeTesting
import XCTest

/// A host with a certificate serves wss:// and https:// on one port, TLS 1.2 and
/// later only, and tells a plain client what to use instead. The certificates are
/// made at run time by the tests' own CA (`openssl`).
final class TLSTests: XCTestCase {
    private var authority: TestCertificateAuthority!
    private var certificate: TestCertificateAuthority.ServerCertificate!
    private var trust: ClientTLS!

    override func setUp() async throws {
        authority = try TestCertificateAuthority(name: "Hyphae TLSTests CA")
        certificate = try authority.issueServerCertificate()
        trust = try ClientTLS.trusting(certificatesIn: authority.certificateFile)
    }

    private func withTLSHost<Result>(
        certificate: TestCertificateAuthority.ServerCertificate? = nil, _ body: (RunningHost) async throws -> Result
    ) async throws -> Result {
        guard let certificate = certificate ?? self.certificate else { throw ExpectationFailure("setUp made no certificate") }
        return try await withHost(configure: {
            $0.tlsCertificateFile = certificate.certificateFile
            $0.tlsKeyFile = certificate.keyFile
        }, body)
    }

    func testAWSSClientSubscribesAndReceivesEveryFrameInOrder() async throws {
        try await withTLSHost { host in
            XCTAssertTrue(host.server.servesTLS)
            let client = try await host.connect("/ws/ticker", tls: trust)
            let greeting = try await client.sendInit()
            XCTAssertEqual(greeting.type, "init", greeting.text)
            let reply = try await client.subscribeSucceeding("small", params: ["rate": 200])
            XCTAssertEqual(reply.payload["stream_type"]?.stringValue, "ticker")
            // Frames of 40 KB take several TLS records each: the pre-encoded frames must go
            // through TLS (above it in the pipeline), not around it.
            try await client.subscribeSucceeding("large", params: ["rate": 200, "payload_bytes": 40_000])
            var small: [Int] = []
            var large: [Int] = []
            while small.count < 30 || large.count < 10 {
                let message = try await client.nextMessage()
                guard let sequence = message.sequence else { continue }
                if message.streamID == "small" { small.append(sequence) }
                if message.streamID == "large" {
                    large.append(sequence)
                    XCTAssertGreaterThanOrEqual(message.payload["data"]?.stringValue?.utf8.count ?? 0, 40_000, "the large frame arrived whole")
                }
            }
            XCTAssertEqual(try missingSequences(small), 0, "\(small)")
            XCTAssertEqual(try missingSequences(large), 0, "\(large)")
            let unsubscribed = try await client.unsubscribe("small")
            XCTAssertEqual(unsubscribed.type, "unsubscribe", unsubscribed.text)
        }
    }

    func testHTTPSAnswersTheHealthCheck() async throws {
        try await withTLSHost { host in
            let health = try await host.get("/health", tls: trust)
            XCTAssertEqual(health.status, 200, health.body)
            XCTAssertEqual(try JSONParser.parse(health.body).objectValue?["status"], "ok")
            let pipelines = try await host.get("/pipelines", tls: trust)
            XCTAssertEqual(pipelines.status, 200, pipelines.body)
        }
    }

    func testAPlainClientIsToldToUseTLSAndTLSClientsCarryOn() async throws {
        try await withTLSHost { host in
            let streaming = try await host.connect("/ws/ticker", tls: trust)
            try await streaming.subscribeSucceeding("s", params: ["rate": 200])
            var sequences = try await streaming.frames("s", count: 5).compactMap(\.sequence)

            // ws:// on the TLS port: the upgrade is refused with a 400 that says what to use.
            do {
                _ = try await host.connect("/ws/ticker")
                XCTFail("a plain WebSocket upgrade on a TLS port must be refused")
            } catch {
                XCTAssertTrue("\(error)".contains("400"), "\(error)")
            }
            // http:// likewise, and the body names the schemes to use.
            let plain = try await host.get("/health")
            XCTAssertEqual(plain.status, 400, plain.body)
            XCTAssertTrue(plain.body.contains("wss://") && plain.body.contains("https://"), plain.body)

            // The TLS subscriber never noticed, and new TLS clients are welcome.
            sequences += try await streaming.frames("s", count: 10).compactMap(\.sequence)
            XCTAssertEqual(try missingSequences(sequences), 0, "\(sequences)")
            let another = try await host.connect("/ws/ticker", tls: trust)
            try await another.assertAlive("a plain client was refused")
        }
    }

    func testAClientThatDoesNotTrustTheCertificateIsToldWhy() async throws {
        let stranger = try TestCertificateAuthority(name: "Some other CA")
        let distrust = try ClientTLS.trusting(certificatesIn: stranger.certificateFile)
        try await withTLSHost { host in
            do {
                _ = try await host.connect("/ws/ticker", tls: distrust)
                XCTFail("a certificate from an untrusted CA must fail the handshake")
            } catch {
                XCTAssertTrue("\(error)".contains("the TLS handshake with 127.0.0.1:\(host.port) failed"), "\(error)")
            }
        }
        // A certificate that names only hyphae.test: the name the client expects decides.
        // (One that names the IP address the client connected to is accepted whatever
        // name is expected: NIOSSL checks the IP addresses in the certificate too.)
        let named = try authority.issueServerCertificate(commonName: "hyphae.test", subjectAltNames: "DNS:hyphae.test")
        try await withTLSHost(certificate: named) { host in
            let wrongName = try ClientTLS.trusting(certificatesIn: authority.certificateFile, serverName: "localhost")
            do {
                _ = try await host.connect("/ws/ticker", tls: wrongName)
                XCTFail("a certificate for another name must fail the handshake")
            } catch {
                XCTAssertTrue("\(error)".contains("TLS handshake"), "\(error)")
            }
            let rightName = try ClientTLS.trusting(certificatesIn: authority.certificateFile, serverName: "hyphae.test")
            try await host.connect("/ws/ticker", tls: rightName).assertAlive()
        }
    }

    func testTLS11AndWeakTLS12CiphersAreRefused() async throws {
        let openssl = try TestCertificateAuthority.opensslExecutable()
        try await withTLSHost { host in
            let address = "127.0.0.1:\(host.port)"
            // OpenSSL 3 keeps TLS 1.1 behind security level 0; without it the client would
            // refuse to offer 1.1 itself, and the host would prove nothing.
            let old = try runProgram(openssl, ["s_client", "-connect", address, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], timeout: 20)
            if old.standardError.contains("no protocols available") || old.standardError.contains("unknown option") {
                throw XCTSkip("this openssl cannot offer TLS 1.1, so a TLS 1.1 client cannot be tried here:\n\(old.standardError)")
            }
            XCTAssertNotEqual(old.status, 0, old.description)
            XCTAssertTrue(old.standardError.contains("alert protocol version"), "the host must refuse the version itself\n\(old)")

            // TLS 1.2 without forward secrecy or with CBC: refused too.
            for cipher in ["ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256"] {
                let weak = try runProgram(openssl, ["s_client", "-connect", address, "-tls1_2", "-cipher", cipher], timeout: 20)
                XCTAssertNotEqual(weak.status, 0, "\(cipher) must be refused\n\(weak)")
                XCTAssertTrue(weak.standardError.contains("handshake failure"), "\(cipher)\n\(weak)")
            }

            // The same client allowed TLS 1.2 gets through and trusts the certificate.
            let current = try runProgram(openssl, ["s_client", "-connect", address, "-tls1_2", "-CAfile", authority.certificateFile, "-verify_return_error"], timeout: 20)
            XCTAssertEqual(current.status, 0, current.description)
            XCTAssertTrue(current.standardOutput.contains("Verify return code: 0 (ok)"), current.description)
        }
    }

    func testBadFilesStopTheStartNamingTheFile() async throws {
        let folder = try TemporaryFolder()
        let garbage = try folder.write("garbage.pem", "not a certificate\n")
        let other = try authority.issueServerCertificate()
        func startProblem(certificate: String, key: String) async -> String {
            do {
                let host = try await RunningHost.start(pipelines: PipelineFixtures.standard, folder: TemporaryFolder()) {
                    $0.tlsCertificateFile = certificate
                    $0.tlsKeyFile = key
                }
                await host.stop()
                return "started"
            } catch {
                XCTAssertTrue(error is TLSSetupError, "\(type(of: error)): \(error)")
                return "\(error)"
            }
        }
        let missing = folder.url.appendingPathComponent("missing.pem").path
        var problem = await startProblem(certificate: missing, key: certificate.keyFile)
        XCTAssertTrue(problem.contains("the TLS certificate file \(missing) does not exist"), problem)
        problem = await startProblem(certificate: garbage, key: certificate.keyFile)
        XCTAssertTrue(problem.contains("\(garbage) holds no PEM certificate"), problem)
        problem = await startProblem(certificate: certificate.certificateFile, key: garbage)
        XCTAssertTrue(problem.contains("\(garbage) holds no PEM private key"), problem)
        problem = await startProblem(certificate: certificate.keyFile, key: certificate.certificateFile)
        XCTAssertTrue(problem.contains("holds a private key, not a certificate: are --tls-cert and --tls-key"), problem)
        problem = await startProblem(certificate: certificate.certificateFile, key: other.keyFile)
        XCTAssertTrue(problem.contains("the private key in \(other.keyFile) does not belong to the certificate in \(certificate.certificateFile)"), problem)
        problem = await startProblem(certificate: folder.url.path, key: certificate.keyFile)
        XCTAssertTrue(problem.contains("is a folder"), problem)
    }
}
