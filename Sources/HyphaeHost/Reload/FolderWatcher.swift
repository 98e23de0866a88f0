import Foundation
import HyphaeCore

/// Notices changes to the pipeline files of a folder: files created, modified,
/// renamed or deleted, including an editor's write-to-temporary-then-rename. It
/// polls the folder's listing and each file's size and modification time, and
/// reports a burst of changes once, when the folder has stayed unchanged for the
/// `settle` window (250 ms): a slow copy is reported when it is complete, not
/// halfway. A folder that keeps changing is still reported every `longestWait`
/// (5 s), so that a file rewritten forever is not ignored forever.
///
/// Polling, rather than inotify, works the same on every platform and filesystem
/// (network mounts, container volumes), and a few `stat` calls ten times a
/// second cost nothing next to serving streams.
struct FolderWatcher: Sendable {
    /// What the folder looked like: each pipeline file with its size and modification time.
    struct Snapshot: Equatable, Sendable {
        var files: [String: FileStamp]
    }

    struct FileStamp: Equatable, Sendable {
        var size: Int
        var modified: Double
    }

    let directory: String
    let pollInterval: Duration
    let settle: Duration
    let longestWait: Duration

    init(
        directory: String, pollInterval: Duration = .milliseconds(100), settle: Duration = .milliseconds(250),
        longestWait: Duration = .seconds(5)
    ) {
        self.directory = directory
        self.pollInterval = pollInterval
        self.settle = settle
        self.longestWait = longestWait
    }

    func snapshot() -> Snapshot {
        var files: [String: FileStamp] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where PipelineCatalog.isPipelineFile(named: name) {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { continue }
            let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            files[name] = FileStamp(size: size, modified: modified)
        }
        return Snapshot(files: files)
    }

    /// Calls `onChange` after each settled burst of changes, until the task is cancelled.
    func run(onChange: @Sendable () async -> Void) async {
        let clock = ContinuousClock()
        var known = snapshot()
        while !Task.isCancelled {
            do { try await clock.sleep(for: pollInterval) } catch { return }
            var current = snapshot()
            guard current != known else { continue }
            // Wait until a whole settle window passes without a change (an editor's
            // several writes, a slow copy), or until the longest wait is up.
            let firstChange = clock.now
            var lastChange = firstChange
            while clock.now - lastChange < settle, clock.now - firstChange < longestWait {
                do { try await clock.sleep(for: min(pollInterval, settle)) } catch { return }
                let latest = snapshot()
                if latest != current {
                    current = latest
                    lastChange = clock.now
                }
            }
            known = current
            await onChange()
        }
    }
}
