import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a program ended.
enum ProgramExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)
    /// Reaped by someone else, so its status is unknown.
    case unknown

    /// Decodes a status from `waitpid` (the WIFEXITED and WTERMSIG macros, which
    /// Swift does not import).
    init(waitStatus status: CInt) {
        let signal = status & 0x7F
        self = signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }

    var isSuccess: Bool { self == .exited(0) }

    var description: String {
        switch self {
        case .exited(let status):
            return "exit status \(status)"
        case .signalled(let signal):
            return "signal \(signal)" + (Self.name(of: signal).map { " (\($0))" } ?? "")
        case .unknown:
            return "an exit whose status nobody could read"
        }
    }

    private static func name(of signal: Int32) -> String? {
        switch signal {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGILL: "SIGILL"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGPIPE: "SIGPIPE"
        case SIGTERM: "SIGTERM"
        default: nil
        }
    }
}

/// Learns how the program ended by reaping it, and signals it only until then, so
/// that a process id the system may have given to another program is never hit.
///
/// It asks with `waitpid(pid, WNOHANG)`: every 200 ms while nothing is expected,
/// and from 1 ms upwards once it is (the output ended, a signal was sent). Polling
/// the one process id, rather than catching SIGCHLD, leaves the host's signal
/// handling and every other child alone. The checks keep the watch alive until
/// the program is reaped, so no program is left a zombie, whoever let go of it.
final class ExitWatch: Sendable {
    static let idleInterval: TimeAmount = .milliseconds(200)
    static let firstQuickInterval: TimeAmount = .milliseconds(1)

    private struct State {
        var exit: ProgramExit?
        var waiters: [CheckedContinuation<ProgramExit, Never>] = []
        var callbacks: [@Sendable (ProgramExit) -> Void] = []
        var nextCheck: Scheduled<Void>?
        var interval = ExitWatch.idleInterval
    }

    let pid: pid_t
    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    init(pid: pid_t, eventLoop: any EventLoop) {
        self.pid = pid
        self.eventLoop = eventLoop
        eventLoop.execute { self.check() }
    }

    var exit: ProgramExit? { state.withLock { $0.exit } }

    /// Checks now and then often, for an exit that is expected soon.
    func hurry() {
        eventLoop.execute {
            let previous: Scheduled<Void>? = self.state.withLock { state in
                state.interval = Self.firstQuickInterval
                defer { state.nextCheck = nil }
                return state.nextCheck
            }
            previous?.cancel()
            self.check()
        }
    }

    /// Signals the program's process group, which also reaches what it started (a
    /// shell's children); the program leads a group of its own.
    func signal(_ signal: Int32) {
        state.withLock { state in
            guard state.exit == nil else { return }
            if kill(-pid, signal) != 0 { kill(pid, signal) }
        }
        hurry()
    }

    func whenExited(_ callback: @escaping @Sendable (ProgramExit) -> Void) {
        let exit: ProgramExit? = state.withLock { state in
            if state.exit == nil { state.callbacks.append(callback) }
            return state.exit
        }
        if let exit { callback(exit) }
    }

    /// Not cancellable: callers make sure the program is on its way out first.
    func wait() async -> ProgramExit {
        await withCheckedContinuation { continuation in
            let exit: ProgramExit? = state.withLock { state in
                if state.exit == nil { state.waiters.append(continuation) }
                return state.exit
            }
            if let exit { continuation.resume(returning: exit) }
        }
    }

    /// Runs on the event loop, which also orders it with `hurry`.
    private func check() {
        // Reaped under the lock, so that no signal can go out once the id is free.
        let reaped: (ProgramExit, [CheckedContinuation<ProgramExit, Never>], [@Sendable (ProgramExit) -> Void])? = state.withLock { state in
            guard state.exit == nil else { return nil }
            var status: CInt = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == 0 || (result == -1 && errno == EINTR) {
                let delay = state.interval
                state.interval = min(state.interval * 2, Self.idleInterval)
                state.nextCheck = eventLoop.scheduleTask(in: delay) { self.check() }
                return nil
            }
            // ECHILD: someone else reaped it (a host that ignores SIGCHLD); it is gone.
            let exit: ProgramExit = result == pid ? ProgramExit(waitStatus: status) : .unknown
            state.exit = exit
            defer {
                state.waiters = []
                state.callbacks = []
            }
            return (exit, state.waiters, state.callbacks)
        }
        guard let (exit, waiters, callbacks) = reaped else { return }
        for waiter in waiters { waiter.resume(returning: exit) }
        for callback in callbacks { callback(exit) }
    }
}

/// Writes lines to the program's input. A line goes straight into the pipe from the
/// caller's thread when it fits (the usual case: the program has read the last one),
/// which spares a trip through the event loop per frame; what does not fit goes to
/// the channel, which writes it as the program reads. Lines never interleave: the
/// direct path is taken only while the channel has nothing left to write.
final class InputWriter: Sendable {
    private let channel: any Channel
    /// A copy of the pipe's write end, or -1 once closed; the program sees the end
    /// of its input only when this and the channel's are both closed.
    private let descriptor: Mutex<CInt>
    private let channelWrites = Atomic<Int>(0)

    init(channel: any Channel, descriptor: CInt) {
        self.channel = channel
        self.descriptor = Mutex(descriptor)
    }

    func write(_ line: ByteBuffer) {
        var rest = line
        if channelWrites.load(ordering: .acquiring) == 0 {
            rest.moveReaderIndex(forwardBy: writeDirectly(line))
            guard rest.readableBytes > 0 else { return }
        }
        channelWrites.add(1, ordering: .relaxed)
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { [self] _ in channelWrites.subtract(1, ordering: .releasing) }
        channel.writeAndFlush(rest, promise: promise)
    }

    /// How many bytes went into the pipe: all of them when the pipe is gone (the
    /// program's output ending tells the rest), as many as fit when it is full.
    private func writeDirectly(_ line: ByteBuffer) -> Int {
        descriptor.withLock { descriptor in
            guard descriptor >= 0 else { return line.readableBytes }
            return line.withUnsafeReadableBytes { bytes in
                while true {
                    let written = systemWrite(descriptor, bytes.baseAddress, bytes.count)
                    if written >= 0 { return written }
                    switch errno {
                    case EINTR: continue
                    case EAGAIN, EWOULDBLOCK: return 0
                    default: return bytes.count
                    }
                }
            }
        }
    }

    func close() {
        descriptor.withLock { descriptor in
            guard descriptor >= 0 else { return }
            _ = systemClose(descriptor)
            descriptor = -1
        }
    }
}

private func systemWrite(_ descriptor: CInt, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, bytes, count)
    #elseif canImport(Musl)
    Musl.write(descriptor, bytes, count)
    #else
    Darwin.write(descriptor, bytes, count)
    #endif
}

private func systemClose(_ descriptor: CInt) -> CInt {
    #if canImport(Glibc)
    Glibc.close(descriptor)
    #elseif canImport(Musl)
    Musl.close(descriptor)
    #else
    Darwin.close(descriptor)
    #endif
}

/// A running program whose standard streams are the host's: its output lines come
/// through `lines`, frames go to its input through `send`, its standard error goes
/// into the log. It is stopped (SIGTERM, then SIGKILL after a grace period) by
/// `stop`, or when the last reference to it goes, so that a run that ends in any way
/// leaves no program behind.
final class ChildProcess: Sendable {
    /// How long a program has between SIGTERM and SIGKILL.
    static let terminationGrace: TimeAmount = .seconds(2)
    /// How long the program may take to exit once its output has ended, before it is stopped.
    static let exitPatience: TimeAmount = .seconds(2)

    let pid: Int32
    let lines: LineInbox
    private let input: InputWriter
    private let channel: any Channel
    private let watch: ExitWatch
    private let eventLoop: any EventLoop

    private init(lines: LineInbox, input: InputWriter, channel: any Channel, watch: ExitWatch, eventLoop: any EventLoop) {
        pid = watch.pid
        self.lines = lines
        self.input = input
        self.channel = channel
        self.watch = watch
        self.eventLoop = eventLoop
    }

    deinit {
        input.close()
        channel.close(promise: nil)
        guard watch.exit == nil else { return }
        watch.signal(SIGTERM)
        let watch = watch
        let kill = eventLoop.scheduleTask(in: Self.terminationGrace) { watch.signal(SIGKILL) }
        watch.whenExited { _ in kill.cancel() }
    }

    /// Starts the program with its streams connected. `lineCapacity` bounds the
    /// output lines held for the stage.
    static func launch(_ settings: ExecSettings, logger: Logger, lineCapacity: Int) async throws -> ChildProcess {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        var descriptors = OwnedDescriptors()
        defer { descriptors.closeAll() }
        let input = try descriptors.makePipe()
        let output = try descriptors.makePipe()
        let errors = try descriptors.makePipe()
        let directInput = try descriptors.duplicate(input.write)

        var environment = ProcessInfo.processInfo.environment
        for (name, value) in settings.environment { environment[name] = value }
        let pid = try ProgramSpawner.spawn(
            executable: settings.executable, arguments: settings.command, environment: environment,
            workingDirectory: settings.workingDirectory, input: input.read, output: output.write, error: errors.write)
        let watch = ExitWatch(pid: pid, eventLoop: eventLoop)
        // The program holds its own copies now; the host's would keep its input open
        // and its output from ever ending.
        descriptors.close(input.read)
        descriptors.close(output.write)
        descriptors.close(errors.write)

        let errorLogger = {
            var logger = logger
            logger[metadataKey: "pid"] = "\(pid)"
            return logger
        }()
        let inbox = LineInbox(capacity: lineCapacity, eventLoop: eventLoop)
        let maxLineBytes = settings.maxLineBytes
        let channel: any Channel
        let errorChannel: any Channel
        do {
            channel = try await NIOPipeBootstrap(group: eventLoop)
                .channelOption(.autoRead, value: false)
                .channelOption(.maxMessagesPerRead, value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(LineDecoder(maxLineBytes: maxLineBytes, overflow: .refuse)),
                            OutputLineHandler(inbox: inbox))
                    }
                }
                .takingOwnershipOfDescriptors(input: output.read, output: input.write).get()
            descriptors.release(output.read)
            descriptors.release(input.write)
        } catch {
            watch.signal(SIGKILL)
            throw error
        }
        do {
            errorChannel = try await NIOPipeBootstrap(group: eventLoop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(LineDecoder(maxLineBytes: StandardErrorLogHandler.maxLineBytes, overflow: .truncate)),
                            StandardErrorLogHandler(logger: errorLogger))
                    }
                }
                .takingOwnershipOfDescriptor(input: errors.read).get()
            descriptors.release(errors.read)
        } catch {
            channel.close(promise: nil)
            watch.signal(SIGKILL)
            throw error
        }
        inbox.onRoom { channel.read() }
        let writer = InputWriter(channel: channel, descriptor: directInput)
        descriptors.release(directInput)
        // Standard error ends by itself when the program exits, unless something it
        // started keeps it open; its last words have a second to arrive.
        watch.whenExited { _ in
            eventLoop.scheduleTask(in: .seconds(1)) { errorChannel.close(promise: nil) }
        }
        return ChildProcess(lines: inbox, input: writer, channel: channel, watch: watch, eventLoop: eventLoop)
    }

    /// Starts the deadline of the answer, then writes a line to the program's input.
    /// Not awaited: the stage waits for the answer, whose deadline also covers a
    /// program that does not read.
    func send(_ line: ByteBuffer, answerWithin timeout: TimeAmount?) {
        if let timeout { lines.arm(timeout) }
        input.write(line)
    }

    /// Closes the program's input, which tells it that no more frames will come.
    func closeInput() {
        input.close()
        channel.close(mode: .output, promise: nil)
    }

    /// Waits for the program to exit by itself for `patience`, then stops it.
    func waitForExit(patience: TimeAmount = ChildProcess.exitPatience) async -> ProgramExit {
        let watch = watch
        watch.hurry()
        let terminate = eventLoop.scheduleTask(in: patience) { watch.signal(SIGTERM) }
        let kill = eventLoop.scheduleTask(in: patience + Self.terminationGrace) { watch.signal(SIGKILL) }
        let exit = await watch.wait()
        terminate.cancel()
        kill.cancel()
        return exit
    }

    /// Closes the program's streams and stops it: SIGTERM now, SIGKILL after the grace period.
    func stop() async -> ProgramExit {
        input.close()
        channel.close(promise: nil)
        return await waitForExit(patience: .zero)
    }
}

/// File descriptors the launch owns until it hands them over, so that every path
/// out of it, thrown or not, closes exactly the ones nobody else took.
private struct OwnedDescriptors {
    private var owned: [CInt] = []

    struct Pipe {
        var read: CInt
        var write: CInt
    }

    mutating func makePipe() throws -> Pipe {
        var ends: [CInt] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw IOError(errnoCode: errno, reason: "pipe")
        }
        owned += ends
        for (index, end) in ends.enumerated() {
            // Close-on-exec, so that another program started meanwhile does not inherit
            // the host's ends; and above 2, so that a host started without standard
            // streams cannot have a pipe end where the program's are put.
            let moved = fcntl(end, F_DUPFD_CLOEXEC, 3)
            guard moved >= 0 else {
                throw IOError(errnoCode: errno, reason: "fcntl")
            }
            owned.append(moved)
            close(end)
            ends[index] = moved
        }
        return Pipe(read: ends[0], write: ends[1])
    }

    /// A close-on-exec copy of one of its descriptors, owned like the rest.
    mutating func duplicate(_ descriptor: CInt) throws -> CInt {
        let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else { throw IOError(errnoCode: errno, reason: "fcntl") }
        owned.append(copy)
        #if canImport(Darwin)
        // Linux has no per-descriptor switch; NIO ignores SIGPIPE for the process there.
        _ = fcntl(copy, F_SETNOSIGPIPE, 1)
        #endif
        return copy
    }

    mutating func close(_ descriptor: CInt) {
        guard let index = owned.firstIndex(of: descriptor) else { return }
        owned.remove(at: index)
        _ = systemClose(descriptor)
    }

    /// Someone else (a channel) closes it from now on.
    mutating func release(_ descriptor: CInt) {
        owned.removeAll { $0 == descriptor }
    }

    mutating func closeAll() {
        for descriptor in owned { _ = systemClose(descriptor) }
        owned = []
    }
}
