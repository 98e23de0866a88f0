import Foundation
import HyphaeCore

/// Notices changes to the pipeline files of a folder: files created, modified,
/// renamed or deleted, including an editor's write-to-temporary-then-rename. It
/// polls the folder's listing and each file's size and modification time, and
/// reports the changes of one `settle` window (250 ms) once, at its end.
///
/// Polling, rather than inotify, works the same on every platform and filesystem
/// (network mounts, container volumes), and a few `stat` calls four times a
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

    init(directory: String, pollInterval: Duration = .milliseconds(100), settle: Duration = .milliseconds(250)) {
        self.directory = directory
        self.pollInterval = pollInterval
        self.settle = settle
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
        var known = snapshot()
        while !Task.isCancelled {
            do { try await Task.sleep(for: pollInterval) } catch { return }
            guard snapshot() != known else { continue }
            // Changes that follow within the window (an editor's several writes, a
            // storm of them) make one reload, at most `settle` after the first.
            do { try await Task.sleep(for: settle) } catch { return }
            let current = snapshot()
            known = current
            await onChange()
        }
    }
}
