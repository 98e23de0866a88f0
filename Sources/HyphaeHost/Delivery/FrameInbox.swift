import HyphaeCore
import Synchronization

/// The frames a producer has handed one event loop that the loop has not taken yet.
///
/// The producer appends; only the append that finds the inbox idle schedules a job on
/// the loop, and that job takes every frame waiting by the time it runs. While the loop
/// keeps up, that is one frame per job, as if each were sent on its own. When it falls
/// behind, the frames that piled up meanwhile go out together: each subscriber gets all
/// of them in one write and one flush, so the syscalls per frame fall exactly when the
/// loop is short of time, and no frame ever waits for company.
final class FrameInbox: Sendable {
    private struct State {
        var frames: [PublishedFrame] = []
        /// A job that will take the frames is on the loop's queue.
        var isScheduled = false
    }

    private let state = Mutex(State())

    /// Adds a frame; true when the caller must schedule a job that calls `take(into:)`.
    func append(_ frame: PublishedFrame) -> Bool {
        state.withLock { state in
            state.frames.append(frame)
            let mustSchedule = !state.isScheduled
            state.isScheduled = true
            return mustSchedule
        }
    }

    /// Moves every waiting frame into `batch` (which must be empty) by swapping storage,
    /// so that neither side allocates once both arrays have grown to their working size.
    func take(into batch: inout [PublishedFrame]) {
        state.withLock { state in
            swap(&state.frames, &batch)
            state.isScheduled = false
        }
    }
}
