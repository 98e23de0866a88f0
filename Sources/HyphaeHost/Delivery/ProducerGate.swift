import Synchronization

/// Holds a pipeline's producer back when the event loops fall behind, or when a
/// subscription under `block` is full. The producer never waits on a socket: it
/// waits for the loops to have taken its last frames, so that no task queue grows
/// without bound.
final class ProducerGate: Sendable {
    private struct State {
        var framesInFlight = 0
        var fullBlockingQueues = 0
        var waiter: CheckedContinuation<Void, Never>?
        var isClosed = false

        func isOpen(limit: Int) -> Bool {
            isClosed || (framesInFlight < limit && fullBlockingQueues == 0)
        }
    }

    private let state = Mutex(State())
    private let limit: Int

    /// `limit`: how many frame jobs may wait on the loops at once.
    init(limit: Int) {
        self.limit = limit
    }

    func dispatched(_ count: Int) {
        state.withLock { $0.framesInFlight += count }
    }

    /// `count` frames handed out by `dispatched` have been delivered.
    func completed(_ count: Int = 1) {
        guard count > 0 else { return }
        resumeIfOpen { $0.framesInFlight -= count }
    }

    func queueFilled() {
        state.withLock { $0.fullBlockingQueues += 1 }
    }

    func queueDrained() {
        resumeIfOpen { $0.fullBlockingQueues -= 1 }
    }

    /// Opens the gate for good, releasing a waiting producer: the instance is stopping.
    func close() {
        resumeIfOpen { $0.isClosed = true }
    }

    /// Whether a producer would pass `waitUntilOpen` now without waiting.
    var isOpen: Bool {
        state.withLock { $0.isOpen(limit: limit) }
    }

    /// Returns once the gate is open, or at once when the task is cancelled.
    func waitUntilOpen() async {
        if isOpen { return }
        let limit = self.limit
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isOpen(limit: limit) || Task.isCancelled { return true }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    private func resumeIfOpen(_ change: (inout State) -> Void) {
        let limit = self.limit
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            change(&state)
            guard state.isOpen(limit: limit), let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}
