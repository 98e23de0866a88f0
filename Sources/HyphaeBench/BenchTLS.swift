import Foundation
import NIOCore
import NIOSSL

/// TLS for the bench's clients (wss://): one client context for the whole run, since
/// building one reads the trust roots, and a handler per connection to put at the head
/// of its pipeline, below the bench's raw-byte handler.
struct BenchTLS: Sendable {
    private let context: NIOSSLContext
    /// Sent as SNI and checked against the certificate; nil for an IP address, which
    /// NIOSSL checks against the certificate's IP addresses instead.
    private let serverName: String?

    /// Trusts only the certificates in `caFile`, or the system's CAs without one.
    init(host: String, caFile: String?) throws(BenchError) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            guard let data = FileManager.default.contents(atPath: caFile) else {
                throw BenchError("cannot read the CA file \(caFile) given to --ca-file; check that it exists and that this user may read it")
            }
            guard let roots = try? NIOSSLCertificate.fromPEMBytes(Array(data)), !roots.isEmpty else {
                throw BenchError("\(caFile) holds no PEM certificate: give --ca-file the CA certificate (or the host's self-signed certificate) in PEM")
            }
            configuration.trustRoots = .certificates(roots)
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw BenchError("cannot set up TLS for the clients: \(error)")
        }
        serverName = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    func makeHandler() throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverName)
    }
}
