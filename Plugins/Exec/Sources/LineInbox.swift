import NIOCore
import Synchronization

/// The program's output lines on their way from the event loop to the stage: a
/// queue of at most `capacity` lines (plus what one read brings) with one consumer,
/// and a deadline for the next line.
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

    private struct Deadline {
        var ticket: UInt64
        var timer: Scheduled<Void>?
    }

    private struct State {
        var lines: [ProgramLine] = []
        var head = 0
        var ending: Ending?
        var waiter: CheckedContinuation<ProgramLine?, any Error>?
        /// Set when the channel stopped reading because the queue was full.
        var readingPaused = false
        var deadline: Deadline?
        var tickets: UInt64 = 0
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

        /// A line came or was taken: the deadline is met.
        mutating func disarm() -> Scheduled<Void>? {
            defer { deadline = nil }
            return deadline?.timer
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

    /// Gives the next line `timeout` to arrive, from now. Cheapest on the event loop,
    /// where the exec transform calls it right after writing the frame.
    func arm(_ timeout: TimeAmount) {
        let ticket: UInt64 = state.withLock { state in
            state.tickets &+= 1
            state.expired = false
            state.deadline = Deadline(ticket: state.tickets)
            return state.tickets
        }
        let timer = eventLoop.scheduleTask(in: timeout) { [self] in expire(ticket) }
        let stale: Bool = state.withLock { state in
            guard state.deadline?.ticket == ticket else { return true }
            state.deadline?.timer = timer
            return false
        }
        if stale { timer.cancel() }
    }

    // MARK: The channel's side

    func push(_ line: ProgramLine) {
        let (waiter, timer): (CheckedContinuation<ProgramLine?, any Error>?, Scheduled<Void>?) = state.withLock { state in
            let timer = state.disarm()
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, timer)
            }
            state.lines.append(line)
            return (nil, timer)
        }
        timer?.cancel()
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
                    case line(ProgramLine, timer: Scheduled<Void>?, resume: (@Sendable () -> Void)?)
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
                        return .line(line, timer: state.disarm(), resume: resume)
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
                case .line(let line, let timer, let resume):
                    timer?.cancel()
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

    private func expire(_ ticket: UInt64) {
        let waiter: CheckedContinuation<ProgramLine?, any Error>? = state.withLock { state in
            guard state.deadline?.ticket == ticket else { return nil }
            state.deadline = nil
            guard let waiter = state.waiter else {
                state.expired = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume(throwing: Timeout())
    }

    private static func resume(_ continuation: CheckedContinuation<ProgramLine?, any Error>, with ending: Ending) {
        switch ending {
        case .endOfOutput: continuation.resume(returning: nil)
        case .failed(let violation): continuation.resume(throwing: violation)
        }
    }
}
