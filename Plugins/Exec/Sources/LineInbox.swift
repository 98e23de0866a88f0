import NIOCore
import Synchronization

/// The program's output lines on their way from the event loop to the stage: a
/// queue of at most `capacity` lines (plus what one read brings) with one consumer,
/// who may wait for the next line with a deadline.
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

    /// Thrown by `next` when no line came before its deadline.
    struct Timeout: Error {}

    private struct Waiter {
        var continuation: CheckedContinuation<ProgramLine?, any Error>
        var ticket: UInt64
        var timer: Scheduled<Void>?
    }

    private struct State {
        var lines: [ProgramLine] = []
        var head = 0
        var ending: Ending?
        var waiter: Waiter?
        var tickets: UInt64 = 0
        /// Set when the channel stopped reading because the queue was full.
        var readingPaused = false

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

    // MARK: The channel's side

    func push(_ line: ProgramLine) {
        let waiter: Waiter? = state.withLock { state in
            if state.waiter != nil, state.count == 0 {
                defer { state.waiter = nil }
                return state.waiter
            }
            state.lines.append(line)
            return nil
        }
        if let waiter {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: line)
        }
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
        let waiter: Waiter? = state.withLock { state in
            guard state.ending == nil else { return nil }
            state.ending = ending
            guard state.count == 0 else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        guard let waiter else { return }
        waiter.timer?.cancel()
        Self.resume(waiter.continuation, with: ending)
    }

    // MARK: The stage's side

    /// The next line; nil once the output has ended. Throws the violation that ended
    /// it, `Timeout` when `timeout` passes first, or `CancellationError`.
    func next(timeout: TimeAmount?) async throws -> ProgramLine? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProgramLine?, any Error>) in
                enum Outcome {
                    case line(ProgramLine, resume: (@Sendable () -> Void)?)
                    case ended(Ending)
                    case cancelled
                    case waiting(UInt64)
                }
                let outcome: Outcome = state.withLock { state in
                    if let line = state.popFirst() {
                        var resume: (@Sendable () -> Void)?
                        if state.readingPaused, state.count < capacity {
                            state.readingPaused = false
                            resume = resumeReading.withLock { $0 }
                        }
                        return .line(line, resume: resume)
                    }
                    if let ending = state.ending { return .ended(ending) }
                    // Checked under the lock: a cancellation that comes later finds the waiter.
                    if Task.isCancelled { return .cancelled }
                    state.tickets &+= 1
                    state.waiter = Waiter(continuation: continuation, ticket: state.tickets)
                    return .waiting(state.tickets)
                }
                switch outcome {
                case .line(let line, let resume):
                    continuation.resume(returning: line)
                    resume?()
                case .ended(let ending):
                    Self.resume(continuation, with: ending)
                case .cancelled:
                    continuation.resume(throwing: CancellationError())
                case .waiting(let ticket):
                    guard let timeout else { return }
                    let timer = eventLoop.scheduleTask(in: timeout) { [self] in expire(ticket) }
                    let answered = state.withLock { state in
                        guard state.waiter?.ticket == ticket else { return true }
                        state.waiter?.timer = timer
                        return false
                    }
                    if answered { timer.cancel() }
                }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.timer?.cancel()
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private func expire(_ ticket: UInt64) {
        let waiter: Waiter? = state.withLock { state in
            guard state.waiter?.ticket == ticket else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.continuation.resume(throwing: Timeout())
    }

    private static func resume(_ continuation: CheckedContinuation<ProgramLine?, any Error>, with ending: Ending) {
        switch ending {
        case .endOfOutput: continuation.resume(returning: nil)
        case .failed(let violation): continuation.resume(throwing: violation)
        }
    }
}
