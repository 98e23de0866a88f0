import Foundation

/// A certificate authority of the tests' own, made at run time with the `openssl`
/// command in a temporary folder, with server certificates for 127.0.0.1 and
/// localhost. Nothing is checked in: keys in a repository end up trusted somewhere.
public final class TestCertificateAuthority {
    /// The CA's certificate: what a client is given to trust (`--ca-file`).
    public let certificateFile: String
    public let name: String
    private let keyFile: String
    private let folder: TemporaryFolder
    private var issued = 0

    /// A server certificate and its key, as files.
    public struct ServerCertificate: Sendable {
        public var certificateFile: String
        public var keyFile: String
    }

    /// Makes a new CA (P-256, valid for two days) called `name`.
    public init(name: String = "Hyphae test CA") throws {
        folder = try TemporaryFolder()
        self.name = name
        certificateFile = folder.url.appendingPathComponent("ca.pem").path
        keyFile = folder.url.appendingPathComponent("ca.key").path
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", keyFile, "-out", certificateFile, "-days", "2", "-subj", "/CN=\(name)",
        ])
    }

    /// Issues a certificate for 127.0.0.1 and localhost, or for `subjectAltNames`
    /// (`DNS:name`, `IP:address`, comma-separated), valid for `days` from now (-1: it
    /// expired yesterday); its chain is itself alone.
    public func issueServerCertificate(
        commonName: String = "localhost", subjectAltNames: String = "IP:127.0.0.1,DNS:localhost", days: Int = 2
    ) throws -> ServerCertificate {
        issued += 1
        let base = folder.url.appendingPathComponent("server-\(issued)").path
        let extensions = try folder.write("server-\(issued).ext", """
            subjectAltName=\(subjectAltNames)
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature
            extendedKeyUsage=serverAuth

            """)
        try Self.openssl([
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(commonName)",
        ])
        let serial = "0x" + (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try Self.openssl([
            "x509", "-req", "-in", base + ".csr", "-CA", certificateFile, "-CAkey", keyFile,
            "-set_serial", serial, "-days", String(days), "-extfile", extensions, "-out", base + ".pem",
        ])
        return ServerCertificate(certificateFile: base + ".pem", keyFile: base + ".key")
    }

    /// The `openssl` command on the PATH; its absence fails the test that needs it, saying so.
    public static func opensslExecutable() throws -> URL {
        guard let openssl = executableOnPath("openssl") else {
            throw ClientProgramError("the openssl command is not on the PATH; the TLS tests make their certificates with it (apt-get install openssl)")
        }
        return openssl
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try runProgram(opensslExecutable(), arguments, timeout: 30)
        guard result.status == 0 else {
            throw ClientProgramError("openssl \(arguments.joined(separator: " ")) failed\n\(result)")
        }
    }

    deinit {
        withExtendedLifetime(folder) {}
    }
}
