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
        guard let port = UInt16(exactly: port) else { throw BenchError("the port must be 0 to 65535, found \(port)") }
        address.sin_port = in_port_t(port).bigEndian
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
        guard bound == 0, listen(descriptor, backlog) == 0, fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) == 0 else {
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
    /// owns it from then on. Does nothing once stopped.
    func start(_ accepted: @escaping @Sendable (CInt) -> Void) {
        let starts = state.withLock { state -> Bool in
            guard !state.isStopping, !state.isAccepting else { return false }
            state.isAccepting = true
            return true
        }
        guard starts else { return }
        let descriptor = self.descriptor
        let finished = self.finished
        let thread = Thread { [self] in
            // The listener is non-blocking and polled with a timeout, so that `stop` is
            // seen within one wait on every system (shutdown wakes accept on Linux only).
            while !state.withLock({ $0.isStopping }) {
                var listener = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&listener, 1, Self.stopCheckMilliseconds) > 0 else { continue }
                // Glibc's module does not export accept4, so close-on-exec is set after.
                let connection = accept(descriptor, nil, nil)
                if connection >= 0 {
                    _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                    accepted(connection)
                    continue
                }
                let failure = errno
                // Taken by no one, or reset before it was taken: nothing to wait for.
                if failure == EAGAIN || failure == EWOULDBLOCK || failure == EINTR || failure == ECONNABORTED { continue }
                // Out of descriptors or memory, or anything else: wait rather than spin.
                usleep(10_000)
            }
            finished.signal()
        }
        thread.name = "hyphae-bench-acceptor"
        thread.start()
    }

    private static let stopCheckMilliseconds: CInt = 100

    /// Stops accepting and closes the listening socket.
    func stop() {
        let (wasStopping, isAccepting) = state.withLock { state -> (Bool, Bool) in
            defer { state.isStopping = true }
            return (state.isStopping, state.isAccepting)
        }
        guard !wasStopping else { return }
        if isAccepting { finished.wait() }
        close(descriptor)
    }
}
