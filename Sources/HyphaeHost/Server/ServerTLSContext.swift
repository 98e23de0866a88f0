import Foundation
import NIOSSL
import Synchronization

/// The context that new TLS connections start with, swapped when the files are read
/// again. A connection takes the context once, when it is accepted, and keeps it for its
/// whole life, so a swap changes what new connections see and touches no open one.
final class ServerTLSContext: Sendable {
    let files: ServerTLSFiles
    private let identity: Mutex<ServerTLSIdentity>

    /// Reads the files; throws, naming the file, when they cannot serve.
    init(files: ServerTLSFiles) throws(TLSSetupError) {
        self.files = files
        identity = Mutex(try files.load())
    }

    /// The context for a connection accepted now.
    var current: NIOSSLContext {
        identity.withLock { $0.context }
    }

    var notValidAfter: Date {
        identity.withLock { $0.notValidAfter }
    }

    /// Reads the files again and, only if they are good, makes them the context of new
    /// connections. Bad files throw and leave the current context serving.
    @discardableResult
    func reload() throws(TLSSetupError) -> ServerTLSIdentity {
        let loaded = try files.load()
        identity.withLock { $0 = loaded }
        return loaded
    }
}
