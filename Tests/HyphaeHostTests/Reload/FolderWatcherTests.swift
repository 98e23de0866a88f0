import Foundation
import HyphaeTesting
import Synchronization
import XCTest

@testable import HyphaeHost

/// The watcher's debounce, with short windows. These check the logic, not the
/// timing: the slack allowed is several times what a loaded machine needs.
final class FolderWatcherTests: XCTestCase {
    /// A file copied slowly, a piece every 100 ms for 600 ms, is reported once,
    /// after its last piece, and whole.
    func testASlowWriteIsReportedOnceWhenComplete() async throws {
        let folder = try TemporaryFolder()
        let file = folder.url.appendingPathComponent("slow.yaml")
        let pieces = (0..<7).map { "line \($0): \(String(repeating: "x", count: 40))\n" }
        let watcher = FolderWatcher(directory: folder.url.path, pollInterval: .milliseconds(20), settle: .milliseconds(400), longestWait: .seconds(30))
        let changes = ChangeRecorder(reading: file)
        let watching = Task { await watcher.run { changes.record() } }
        defer { watching.cancel() }
        try await Task.sleep(for: .milliseconds(100))  // the watcher's first look: an empty folder

        try await writeSlowly(pieces, to: file, every: .milliseconds(100))
        let lastWrite = ContinuousClock.now

        try await changes.waitForCount(1, timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(800))  // two settle windows: room for a second report
        let seen = changes.all
        XCTAssertEqual(seen.count, 1, "one report for one copy: \(seen.map(\.text.count))")
        XCTAssertEqual(seen.first?.text, pieces.joined(), "the report comes when the file is whole")
        if let reported = seen.first?.at {
            XCTAssertGreaterThanOrEqual(reported, lastWrite, "reported after the last write")
        }
    }

    /// A file that never stops changing is still reported, within the longest wait.
    func testAFolderThatNeverSettlesIsReportedAtTheLongestWait() async throws {
        let folder = try TemporaryFolder()
        let file = folder.url.appendingPathComponent("busy.yaml")
        let watcher = FolderWatcher(directory: folder.url.path, pollInterval: .milliseconds(20), settle: .milliseconds(400), longestWait: .milliseconds(500))
        let changes = ChangeRecorder(reading: file)
        let watching = Task { await watcher.run { changes.record() } }
        defer { watching.cancel() }
        try await Task.sleep(for: .milliseconds(100))

        let started = ContinuousClock.now
        try await writeSlowly((0..<60).map { "\($0)\n" }, to: file, every: .milliseconds(50))  // 3 s, never 400 ms apart
        let stopped = ContinuousClock.now

        let reports = changes.all.map { $0.at - started }
        XCTAssertFalse(reports.isEmpty, "no report while the file changed for \(stopped - started)")
        if let first = reports.first {
            XCTAssertLessThan(first, .milliseconds(2_500), "the first report waits for the longest wait, not for the writes to stop")
        }
    }

    /// Editing a pipeline's tests (`*.test.yaml`) must not reload the pipelines.
    func testThePipelineTestsBesideThePipelinesAreNotWatched() throws {
        let folder = try TemporaryFolder()
        try folder.write("ticker.yaml", "name: ticker")
        try folder.write("ticker.test.yaml", "cases: []")
        let watcher = FolderWatcher(directory: folder.url.path)
        let before = watcher.snapshot()
        XCTAssertEqual(before.files.keys.sorted(), ["ticker.yaml"])
        try folder.write("ticker.test.yaml", "cases: [] # changed, and longer")
        try folder.write("other.test.yml", "cases: []")
        XCTAssertEqual(watcher.snapshot(), before)
    }

    private func writeSlowly(_ pieces: [String], to file: URL, every interval: Duration) async throws {
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        let start = ContinuousClock.now
        for (index, piece) in pieces.enumerated() {
            if index > 0 { try await Task.sleep(until: start + interval * index) }
            try handle.write(contentsOf: Data(piece.utf8))
        }
    }
}

/// What the watched file held each time the watcher reported a change, and when.
private final class ChangeRecorder: Sendable {
    struct Change: Sendable {
        var at: ContinuousClock.Instant
        var text: String
    }

    private let file: URL
    private let changes = Mutex<[Change]>([])

    init(reading file: URL) {
        self.file = file
    }

    var all: [Change] { changes.withLock { $0 } }

    func record() {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        let change = Change(at: .now, text: text)
        changes.withLock { $0.append(change) }
    }

    func waitForCount(_ count: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while all.count < count {
            guard ContinuousClock.now < deadline else {
                throw ClientProgramError("the watcher reported \(all.count) changes within \(timeout), not \(count)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
