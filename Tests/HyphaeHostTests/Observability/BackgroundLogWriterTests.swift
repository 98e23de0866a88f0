import Foundation
@testable import HyphaeHost
import Synchronization
import XCTest

/// The log is written off the event loops: a stalled standard error costs lines, which
/// are counted and announced, never a wait in the caller.
final class BackgroundLogWriterTests: XCTestCase {
    /// A sink that holds every write until the test opens it, and keeps what it got.
    private final class StalledSink: Sendable {
        let open = DispatchSemaphore(value: 0)
        /// Signalled when a write begins, so that the test knows the writer is held.
        let entered = DispatchSemaphore(value: 0)
        let written = Mutex<[UInt8]>([])

        var output: LogOutput {
            LogOutput { [self] chunk in
                entered.signal()
                open.wait()
                open.signal()
                written.withLock { $0 += chunk }
            }
        }

        var lines: [String] {
            String(decoding: written.withLock { $0 }, as: UTF8.self).split(separator: "\n").map(String.init)
        }
    }

    func testAStalledSinkCostsCountedLinesAndNeverTheCaller() {
        let sink = StalledSink()
        let writer = BackgroundLogWriter(writingTo: sink.output) { dropped in Array("dropped \(dropped)\n".utf8) }
        let droppedBefore = BackgroundLogWriter.droppedLinesTotal
        // The first line is taken at once, and its write held: from then on, lines only queue.
        writer.output.writeLine(Array("line 0\n".utf8))
        XCTAssertEqual(sink.entered.wait(timeout: .now() + 10), .success, "the writer thread took the first line")
        let total = BackgroundLogWriter.lineCapacity + 500
        let started = ContinuousClock.now
        for index in 1..<total { writer.output.writeLine(Array("line \(index)\n".utf8)) }
        let elapsed = ContinuousClock.now - started
        sink.open.signal()
        writer.drain(timeout: .seconds(30))
        // One more line, after the gap, so that the notice is written.
        writer.output.writeLine(Array("after\n".utf8))
        writer.drain(timeout: .seconds(30))
        Thread.sleep(forTimeInterval: 0.1)

        let lines = sink.lines
        let dropped = BackgroundLogWriter.droppedLinesTotal - droppedBefore
        XCTAssertEqual(dropped, total - 1 - BackgroundLogWriter.lineCapacity, "one line held, the queue full, the rest dropped")
        XCTAssertEqual(lines.filter { $0.hasPrefix("line ") }.count + dropped, total, "every line is written or counted")
        XCTAssertTrue(lines.contains("dropped \(dropped)"), "the gap is announced in the log: \(lines.suffix(3))")
        XCTAssertEqual(lines.last, "after")
        let written = lines.filter { $0.hasPrefix("line ") }.compactMap { Int($0.dropFirst(5)) }
        XCTAssertEqual(written, written.sorted(), "lines keep their order")
        // Not a performance figure: a caller that waited on the sink would never have returned.
        XCTAssertLessThan(elapsed, .seconds(20))
    }
}
