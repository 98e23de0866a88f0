import NIOCore
import Synchronization

/// The program's output lines on their way from the event loop to the stage: a
/// queue of at most `capacity` lines (plus what one read brings) with one consumer,
/// and a deadline for the next line, checked every `checkInterval`.
///
/// It is the only buffer between the pipe and the stage. When it is full the
/// channel stops reading, the pipe fills, and the program's writes block: a program
/// that writes faster than its pipeline takes frames is slowed down, not buffered.
final class LineInbox: Sendable {
    /// How the output ended, once every line before it has been taken.
    enum Ending: Sendable {
        case endOfOutput
        case failed(ProtocolViolation)
    }

    /// Thrown by `next` when the deadline passed before a line came.
    struct Timeout: Error {}

    /// How often an armed deadline is checked, so how late it may pass. One check
    /// on the event loop every so often, rather than a timer per line, keeps arming
    /// a deadline from waking the event loop for every frame.
    static let checkInterval: TimeAmount = .milliseconds(20)

    private struct State {
        var lines: [ProgramLine] = []
        var head = 0
        var ending: Ending?
        var waiter: CheckedContinuation<ProgramLine?, any Error>?
        /// Set when the channel stopped reading because the queue was full.
        var readingPaused = false
        var deadline: NIODeadline?
        /// Whether the check of the deadline is scheduled on the event loop.
        var checking = false
        /// The deadline passed with nobody waiting; the next `next` finds out.
        var expired = false

        var count: Int { lines.count - head }

        mutating func popFirst() -> ProgramLine? {
            guard head < lines.count else { return nil }
            let line = lines[head]
            head += 1
            if head == lines.count {
                lines.removeAll(keepingCapacity: true)
                head = 0
            }
            return line
        }
    }

    let capacity: Int
    private let eventLoop: any EventLoop
    private let state = Mutex(State())
    /// Asks the channel for more once the consumer has made room; set when the channel exists.
    private let resumeReading = Mutex<(@Sendable () -> Void)?>(nil)

    init(capacity: Int, eventLoop: any EventLoop) {
        self.capacity = capacity
        self.eventLoop = eventLoop
    }

    func onRoom(_ resume: @escaping @Sendable () -> Void) {
        resumeReading.withLock { $0 = resume }
    }

    /// Gives the next line `timeout` to arrive, from now; the line met it whether it
    /// comes or was already there. Wakes the event loop only to start checking.
    func arm(_ timeout: TimeAmount) {
        let startChecking: Bool = state.withLock { state in
            state.deadline = .now() + timeout
            state.expired = false
            defer { state.checking = true }
            return !state.checking
        }
        if startChecking { scheduleCheck() }
    }

    private func scheduleCheck() {
        eventLoop.scheduleTask(in: Self.checkInterval) { [self] in check() }
    }

    /// On the event loop: fails the wait whose deadline passed, and goes on checking
    /// while a deadline is armed.
    private func check() {
        let (waiter, again): (CheckedContinuation<ProgramLine?, any Error>?, Bool) = state.withLock { state in
            guard let deadline = state.deadline else {
                state.checking = false
                return (nil, false)
            }
            guard deadline <= .now() else { return (nil, true) }
            state.deadline = nil
            state.checking = false
            guard let waiter = state.waiter else {
                state.expired = true
                return (nil, false)
            }
            state.waiter = nil
            return (waiter, false)
        }
        if again { scheduleCheck() }
        waiter?.resume(throwing: Timeout())
    }

    // MARK: The channel's side

    func push(_ line: ProgramLine) {
        let waiter: CheckedContinuation<ProgramLine?, any Error>? = state.withLock { state in
            state.deadline = nil
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.lines.append(line)
            return nil
        }
        waiter?.resume(returning: line)
    }

    /// Whether the channel should read again; when not, the consumer resumes it.
    func wantsMore() -> Bool {
        state.withLock { state in
            if state.count < capacity { return true }
            state.readingPaused = true
            return false
        }
    }

    func finish(_ ending: Ending) {
        let waiter: CheckedContinuation<ProgramLine?, any Error>? = state.withLock { state in
            guard state.ending == nil else { return nil }
            state.ending = ending
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter.map { Self.resume($0, with: ending) }
    }

    // MARK: The stage's side

    /// `next()` with a deadline from now, armed only when no line is there to take.
    func next(within timeout: TimeAmount?) async throws -> ProgramLine? {
        if let timeout, state.withLock({ $0.count == 0 && $0.ending == nil }) { arm(timeout) }
        return try await next()
    }

    /// The next line; nil once the output has ended. Throws the violation that ended
    /// it, `Timeout` when an armed deadline passes first, or `CancellationError`.
    func next() async throws -> ProgramLine? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProgramLine?, any Error>) in
                enum Outcome {
                    case line(ProgramLine, resume: (@Sendable () -> Void)?)
                    case ended(Ending)
                    case failed(any Error)
                    case waiting
                }
                let outcome: Outcome = state.withLock { state in
                    if let line = state.popFirst() {
                        var resume: (@Sendable () -> Void)?
                        if state.readingPaused, state.count < capacity {
                            state.readingPaused = false
                            resume = resumeReading.withLock { $0 }
                        }
                        state.deadline = nil
                        return .line(line, resume: resume)
                    }
                    if let ending = state.ending { return .ended(ending) }
                    if state.expired {
                        state.expired = false
                        return .failed(Timeout())
                    }
                    // Checked under the lock: a cancellation that comes later finds the waiter.
                    if Task.isCancelled { return .failed(CancellationError()) }
                    state.waiter = continuation
                    return .waiting
                }
                switch outcome {
                case .line(let line, let resume):
                    continuation.resume(returning: line)
                    resume?()
                case .ended(let ending):
                    Self.resume(continuation, with: ending)
                case .failed(let error):
                    continuation.resume(throwing: error)
                case .waiting:
                    break
                }
            }
        } onCancel: {
            let waiter: CheckedContinuation<ProgramLine?, any Error>? = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private static func resume(_ continuation: CheckedContinuation<ProgramLine?, any Error>, with ending: Ending) {
        switch ending {
        case .endOfOutput: continuation.resume(returning: nil)
        case .failed(let violation): continuation.resume(throwing: violation)
        }
    }
}
