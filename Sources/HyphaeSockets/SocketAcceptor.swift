#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore
import Synchronization

/// A listening TCP socket whose connections are accepted on a thread of its own and
/// handed over by descriptor. NIO's `ServerBootstrap` accepts on an event loop and never
/// says a connection's descriptor; a server that writes to its sockets itself
/// (`DirectSocketWriter`) accepts here and gives each descriptor to NIO with
/// `ClientBootstrap.withConnectedSocket`, which then reads, closes and takes whatever
/// the kernel would not.
public final class SocketAcceptor: Sendable {
    private let descriptor: CInt
    /// Written once by `stop`, so that a thread waiting in `poll` wakes at once.
    private let wakeReader: CInt
    private let wakeWriter: CInt
    public let port: Int
    private let state = Mutex(State())

    private struct State {
        var isStopping = false
        var isAccepting = false
        var isClosed = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The accept loop signals this once it has returned, so that `stop` closes the
    /// descriptor only when no thread can be inside `accept` on it.
    private let finished = DispatchSemaphore(value: 0)

    /// Binds and listens on `host` (a name or an IPv4 or IPv6 address) and `port` (0:
    /// any free port). Throws `SocketAcceptorError` saying which call failed and why.
    public init(host: String, port: Int, backlog: CInt = 4096) throws(SocketAcceptorError) {
        guard (0...65_535).contains(port) else {
            throw SocketAcceptorError(host: host, port: port, reason: "the port must be 0 to 65535")
        }
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw SocketAcceptorError(host: host, port: port, reason: "cannot resolve the address: \(error)")
        }
        let family: CInt
        switch address {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        default: throw SocketAcceptorError(host: host, port: port, reason: "only IPv4 and IPv6 addresses can listen for TCP")
        }
        #if canImport(Glibc)
        let socketType = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        #elseif canImport(Musl)
        let socketType = SOCK_STREAM | SOCK_CLOEXEC
        #else
        let socketType = SOCK_STREAM
        #endif
        let descriptor = socket(family, socketType, 0)
        guard descriptor >= 0 else {
            throw SocketAcceptorError(host: host, port: port, reason: "socket() failed: \(Self.describe(errno))")
        }
        var reuse: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<CInt>.size))
        let bound = address.withSockAddr { bind(descriptor, $0, socklen_t($1)) }
        guard bound == 0, listen(descriptor, backlog) == 0, fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) == 0 else {
            let reason = Self.describe(errno)
            close(descriptor)
            throw SocketAcceptorError(host: host, port: port, reason: reason)
        }
        var pipeEnds: [CInt] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            let reason = Self.describe(errno)
            close(descriptor)
            throw SocketAcceptorError(host: host, port: port, reason: "pipe() failed: \(reason)")
        }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.descriptor = descriptor
        wakeReader = pipeEnds[0]
        wakeWriter = pipeEnds[1]
        self.port = Self.boundPort(of: descriptor) ?? port
    }

    private static func boundPort(of descriptor: CInt) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return nil }
        return withUnsafePointer(to: &storage) { pointer -> Int? in
            switch CInt(pointer.pointee.ss_family) {
            case AF_INET: return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            case AF_INET6: return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            default: return nil
            }
        }
    }

    private static func describe(_ code: CInt) -> String {
        String(cString: strerror(code))
    }

    /// Accepts until `stop`, handing each connection's descriptor to `accepted`, which
    /// owns it from then on (it must close it if it cannot use it). Does nothing once
    /// started or stopped.
    public func start(name: String, _ accepted: @escaping @Sendable (CInt) -> Void) {
        let starts = state.withLock { state -> Bool in
            guard !state.isStopping, !state.isAccepting else { return false }
            state.isAccepting = true
            return true
        }
        guard starts else { return }
        let thread = Thread { [self] in
            acceptUntilStopped(accepted)
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    private func acceptUntilStopped(_ accepted: (CInt) -> Void) {
        var watched = [
            pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0),
        ]
        while !state.withLock({ $0.isStopping }) {
            watched[0].revents = 0
            watched[1].revents = 0
            guard poll(&watched, 2, -1) > 0 else { continue }
            if watched[1].revents != 0 { break }
            // Take every connection waiting, so that a burst costs one wake-up.
            while true {
                // Glibc's module does not export accept4, so close-on-exec is set after.
                let connection = accept(descriptor, nil, nil)
                if connection >= 0 {
                    _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                    accepted(connection)
                    continue
                }
                let failure = errno
                // Reset before it was taken: go on to the next.
                if failure == ECONNABORTED || failure == EINTR { continue }
                // Out of descriptors or memory, or anything else but an empty queue:
                // wait a little rather than spin on a listener that stays readable.
                if failure != EAGAIN, failure != EWOULDBLOCK { usleep(10_000) }
                break
            }
        }
    }

    /// Stops accepting and closes the listening socket; connections already handed over
    /// are not touched. Returns once no thread can hand over another.
    public func stop() {
        let (wasStopping, isAccepting) = state.withLock { state -> (Bool, Bool) in
            defer { state.isStopping = true }
            return (state.isStopping, state.isAccepting)
        }
        guard !wasStopping else { return }
        var byte: UInt8 = 1
        _ = write(wakeWriter, &byte, 1)
        if isAccepting { finished.wait() }
        close(descriptor)
        close(wakeReader)
        close(wakeWriter)
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isClosed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `stop` has closed the listening socket.
    public func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let resumesNow = state.withLock { state -> Bool in
                guard !state.isClosed else { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumesNow { continuation.resume() }
        }
    }
}

/// A listening socket could not be set up.
public struct SocketAcceptorError: Error, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let reason: String

    public var description: String {
        "cannot listen on \(host):\(port): \(reason)"
    }
}
