import Foundation
import NIOSSL

/// Why the host's certificate or key cannot be used: the file, what is wrong, what to do.
public struct TLSSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// A server context read from files, and when its certificate stops being valid.
struct ServerTLSIdentity: Sendable {
    var context: NIOSSLContext
    var notValidAfter: Date
}

/// The PEM files of the host's certificate chain and private key, and how they become a
/// server context. Each problem is found here, before a client meets it, and named
/// with its file: BoringSSL's own errors name neither file nor remedy.
struct ServerTLSFiles: Sendable, Equatable {
    var certificateFile: String
    var keyFile: String

    /// TLS 1.2's suites: forward secrecy (ECDHE) and AEAD only, as Mozilla's
    /// "intermediate" profile. NIOSSL's defaults also accept RSA key exchange and CBC,
    /// kept for old clients that a host on the open internet need not serve. TLS 1.3's
    /// suites are all of that kind and are not set by this string.
    static let tls12CipherSuites = "ECDH+AESGCM:ECDH+CHACHA20"

    /// Reads both files and builds a context that accepts TLS 1.2 and later.
    func load() throws(TLSSetupError) -> ServerTLSIdentity {
        let certificateText = try Self.read(certificateFile, what: "TLS certificate", flag: "--tls-cert")
        let keyText = try Self.read(keyFile, what: "TLS private key", flag: "--tls-key")
        let chain = try certificates(in: certificateText)
        let key = try privateKey(in: keyText)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // TLS 1.0 and 1.1 are deprecated (RFC 8996); every client of the last decade has 1.2.
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = Self.tls12CipherSuites
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            // The key parsed above; what BoringSSL refuses now is a key that does not belong
            // to the first certificate of the chain, which it checks while loading it.
            throw TLSSetupError("the private key in \(keyFile) does not belong to the certificate in \(certificateFile): give the key made with that certificate, and put the server's own certificate first in the chain")
        } catch {
            throw TLSSetupError("cannot use the certificate in \(certificateFile) with the key in \(keyFile): \(error)")
        }
        // The chain is not empty: `certificates(in:)` throws otherwise.
        let leaf = chain[0]
        return ServerTLSIdentity(context: context, notValidAfter: Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)))
    }

    private func certificates(in text: [UInt8]) throws(TLSSetupError) -> [NIOSSLCertificate] {
        let chain = try? NIOSSLCertificate.fromPEMBytes(text)
        if let chain, !chain.isEmpty { return chain }
        if Self.contains("PRIVATE KEY-----", in: text) {
            throw TLSSetupError("\(certificateFile) holds a private key, not a certificate: are --tls-cert and --tls-key (tls_cert and tls_key) swapped?")
        }
        throw TLSSetupError("\(certificateFile) holds no PEM certificate: give the certificate chain in PEM (blocks starting with -----BEGIN CERTIFICATE-----), the server's certificate first; convert a DER file with `openssl x509 -inform der -in FILE -out FILE.pem`")
    }

    private func privateKey(in text: [UInt8]) throws(TLSSetupError) -> NIOSSLPrivateKey {
        // Checked first: the host has no one to ask for a passphrase.
        if Self.contains("ENCRYPTED", in: text) {
            throw TLSSetupError("the private key in \(keyFile) is encrypted with a passphrase, which the host cannot ask for: give it an unencrypted copy readable only by its user (`openssl pkey -in \(keyFile) -out KEY.pem`, then chmod 600)")
        }
        if let key = try? NIOSSLPrivateKey(bytes: text, format: .pem) { return key }
        if Self.contains("BEGIN CERTIFICATE", in: text), !Self.contains("PRIVATE KEY-----", in: text) {
            throw TLSSetupError("\(keyFile) holds a certificate, not a private key: are --tls-cert and --tls-key (tls_cert and tls_key) swapped?")
        }
        throw TLSSetupError("\(keyFile) holds no PEM private key: give the key in PEM (a block starting with -----BEGIN PRIVATE KEY-----, or RSA or EC PRIVATE KEY)")
    }

    /// The file's bytes, or an error that says why they cannot be read.
    private static func read(_ path: String, what: String, flag: String) throws(TLSSetupError) -> [UInt8] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TLSSetupError("the \(what) file \(path) does not exist; check the path given to \(flag) (a relative path starts from the folder hyphae runs in)")
        }
        guard !isFolder.boolValue else {
            throw TLSSetupError("the \(what) file \(path) is a folder; give the file itself to \(flag)")
        }
        guard FileManager.default.isReadableFile(atPath: path), let data = FileManager.default.contents(atPath: path) else {
            throw TLSSetupError("the \(what) file \(path) cannot be read by this user; check its permissions")
        }
        return Array(data)
    }

    private static func contains(_ marker: String, in bytes: [UInt8]) -> Bool {
        String(decoding: bytes, as: UTF8.self).contains(marker)
    }
}
