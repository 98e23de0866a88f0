import Foundation
import NIOCore
import NIOSSL

/// How a client speaks TLS to a host (wss://): which certificates it trusts, and the
/// name the host's certificate must carry. The context is built once and shared by every
/// connection made with this value, since building one reads the trust roots.
public struct ClientTLS: Sendable {
    let context: NIOSSLContext
    /// The name to check the certificate against and send as SNI; nil: the host
    /// given to `connect`. An IP address is checked against the certificate's IP
    /// addresses and never sent as SNI (RFC 6066 allows only names there).
    public var serverName: String?

    /// Any TLS configuration: client certificates, ciphers, another trust store.
    public init(configuration: TLSConfiguration, serverName: String? = nil) throws {
        context = try NIOSSLContext(configuration: configuration)
        self.serverName = serverName
    }

    /// Trusts the system's certificate authorities: a host whose certificate a public CA signed.
    public static func systemTrust(serverName: String? = nil) throws -> ClientTLS {
        try ClientTLS(configuration: .makeClientConfiguration(), serverName: serverName)
    }

    /// Trusts the certificates in a PEM file, and no others: a private CA, or a host's
    /// self-signed certificate itself. As curl's `--cacert`.
    public static func trusting(certificatesIn file: String, serverName: String? = nil) throws(ClientError) -> ClientTLS {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ClientError("cannot read the CA file \(file); check that it exists and that this user may read it")
        }
        guard let roots = try? NIOSSLCertificate.fromPEMBytes(Array(data)), !roots.isEmpty else {
            throw ClientError("\(file) holds no PEM certificate: give the CA certificate (or the host's self-signed certificate) in PEM, a block starting with -----BEGIN CERTIFICATE-----")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(roots)
        do {
            return try ClientTLS(configuration: configuration, serverName: serverName)
        } catch {
            throw ClientError("cannot trust the certificates in \(file): \(error)")
        }
    }

    /// The handler that goes first in the pipeline of a connection to `host`, for
    /// clients that build their own pipeline (an HTTP request over https://).
    public func makeHandler(host: String) throws -> NIOSSLClientHandler {
        let name = serverName ?? host
        return try NIOSSLClientHandler(context: context, serverHostname: Self.isIPAddress(name) ? nil : name)
    }

    private static func isIPAddress(_ text: String) -> Bool {
        (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }
}
