import Foundation
import Synchronization

/// Writes log lines on a thread of its own, so that a slow standard error (a full pipe,
/// a slow terminal, a log shipper that stalls) never holds an event loop. Lines wait in
/// a bounded queue; under a flood the ones that do not fit are dropped and counted
/// (`hyphae_log_lines_dropped_total`), and the line after a gap says how many went.
public final class BackgroundLogWriter: Sendable {
    /// Lines that may wait at once, and their bytes.
    public static let lineCapacity = 10_000
    public static let byteCapacity = 8 << 20

    /// Lines dropped by every writer of the process, for `/metrics`.
    public static var droppedLinesTotal: Int { droppedLines.count.load(ordering: .relaxed) }

    private final class DropCounter: Sendable {
        let count = Atomic<Int>(0)
    }

    private static let droppedLines = DropCounter()

    private struct State {
        var lines: [[UInt8]] = []
        var bytes = 0
        /// Dropped since the last line written, to say so in the log itself.
        var droppedSinceWrite = 0
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let sink: LogOutput
    private let dropNotice: @Sendable (Int) -> [UInt8]

    /// Starts the writing thread, which lives as long as the process. `dropNotice` makes
    /// the line, in the log's own format, that says how many lines a gap lost.
    public init(writingTo sink: LogOutput, dropNotice: @escaping @Sendable (Int) -> [UInt8]) {
        self.sink = sink
        self.dropNotice = dropNotice
        let thread = Thread { [self] in run() }
        thread.name = "hyphae.log"
        thread.start()
    }

    /// An output that queues each line for this writer.
    public var output: LogOutput {
        LogOutput { [self] line in enqueue(line) }
    }

    func enqueue(_ line: [UInt8]) {
        let accepted = state.withLock { state -> Bool in
            guard state.lines.count < Self.lineCapacity, state.bytes + line.count <= Self.byteCapacity else {
                state.droppedSinceWrite += 1
                return false
            }
            state.lines.append(line)
            state.bytes += line.count
            return true
        }
        if accepted {
            wakeUp.signal()
        } else {
            Self.droppedLines.count.add(1, ordering: .relaxed)
        }
    }

    /// Waits up to `timeout` for the queued lines to be written (at shutdown).
    public func drain(timeout: Duration = .seconds(2)) {
        let deadline = ContinuousClock.now + timeout
        while state.withLock({ !$0.lines.isEmpty }), ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    private func run() {
        var batch: [[UInt8]] = []
        while true {
            wakeUp.wait()
            let dropped = state.withLock { state -> Int in
                swap(&state.lines, &batch)
                state.bytes = 0
                defer { state.droppedSinceWrite = 0 }
                return state.droppedSinceWrite
            }
            guard !batch.isEmpty else { continue }
            var chunk: [UInt8] = []
            chunk.reserveCapacity(batch.reduce(0) { $0 + $1.count } + 64)
            if dropped > 0 { chunk += dropNotice(dropped) }
            for line in batch { chunk += line }
            sink.writeLine(chunk)
            batch.removeAll(keepingCapacity: true)
        }
    }
}
