#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// A listening TCP socket whose connections are accepted on a thread of its own and
/// handed over by descriptor. NIO's `ServerBootstrap` accepts on an event loop and never
/// says a connection's descriptor; a caller that wants to write to the socket itself
/// (`CeilingServer` with direct writes) accepts here and gives each descriptor to NIO
/// with `ClientBootstrap.withConnectedSocket`.
final class SocketAcceptor: Sendable {
    private let descriptor: CInt
    let port: Int
    private let state = Mutex(State())

    private struct State {
        var isStopping = false
        var isAccepting = false
    }

    /// The accept loop signals this once it has returned, so that `stop` closes the
    /// descriptor only when no thread can be inside `accept` on it.
    private let finished = DispatchSemaphore(value: 0)

    /// Binds and listens on an IPv4 address (the bench serves loopback).
    init(host: String, port: Int, backlog: CInt = 4096) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw BenchError("direct writes listen on an IPv4 address such as 127.0.0.1, not '\(host)'")
        }
        #if canImport(Glibc)
        let socketType = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        #else
        let socketType = SOCK_STREAM
        #endif
        let descriptor = socket(AF_INET, socketType, 0)
        guard descriptor >= 0 else { throw BenchError("socket() failed: \(String(cString: strerror(errno)))") }
        var reuse: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<CInt>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw BenchError("cannot listen on \(host):\(port): \(reason)")
        }
        var boundAddress = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &boundAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: boundAddress.sin_port))
    }

    /// Accepts until `stop`, handing each connection's descriptor to `accepted`, which
    /// owns it from then on.
    func start(_ accepted: @escaping @Sendable (CInt) -> Void) {
        let descriptor = self.descriptor
        let finished = self.finished
        let thread = Thread { [self] in
            while true {
                // Glibc's module does not export accept4, so close-on-exec is set after.
                let connection = accept(descriptor, nil, nil)
                if connection >= 0 {
                    _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                    accepted(connection)
                    continue
                }
                let failure = errno
                if state.withLock({ $0.isStopping }) { break }
                // Out of descriptors, or a connection reset before it was taken: wait and go on.
                if failure == EMFILE || failure == ENFILE || failure == ENOBUFS || failure == ENOMEM {
                    usleep(10_000)
                }
            }
            finished.signal()
        }
        thread.name = "hyphae-bench-acceptor"
        state.withLock { $0.isAccepting = true }
        thread.start()
    }

    /// Stops accepting and closes the listening socket.
    func stop() {
        let (wasStopping, isAccepting) = state.withLock { state -> (Bool, Bool) in
            defer { state.isStopping = true }
            return (state.isStopping, state.isAccepting)
        }
        guard !wasStopping else { return }
        // Wakes the thread from a blocking accept (it returns EINVAL).
        shutdown(descriptor, CInt(SHUT_RDWR))
        if isAccepting { finished.wait() }
        close(descriptor)
    }
}
