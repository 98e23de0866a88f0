import Foundation
import HyphaeCore

/// When a program that stopped is started again.
public enum RestartPolicy: String, Sendable, CaseIterable {
    /// A program that stops ends the stream: with an error unless a source exited with status 0.
    case never
    /// A program that crashes, is killed or misses a deadline is started again; a
    /// source that exits with status 0 ends the stream.
    case onFailure = "on_failure"
    /// Every exit is followed by a new start, within the restart budget.
    case always
}

/// What `exec` and `exec_source` share: which program runs, where, and what happens
/// when it fails. Read from the stage's mapping; the program is looked up while the
/// file is validated, so that a wrong name is an error at load, with its line.
public struct ExecSettings: Sendable {
    /// The program and its arguments as the file wrote them, for messages.
    public var command: [String]
    /// The file `command[0]` names, found on PATH or against the working directory.
    public var executable: String
    public var workingDirectory: String
    /// Set for the program on top of the host's environment.
    public var environment: [(key: String, value: String)]
    public var restart: RestartPolicy
    public var maxRestarts: Int
    public var restartWindowMilliseconds: Int
    public var restartBackoffMilliseconds: Int
    public var startupTimeoutMilliseconds: Int
    /// How long the program has for each answer after its first; nil waits as long as it takes.
    public var frameTimeoutMilliseconds: Int?
    public var maxLineBytes: Int

    /// The program's command as one line for messages and logs.
    public var commandLine: String {
        command.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// Reads the shared fields. `frameTimeout` is the default of `frame_timeout_ms`
    /// (nil: none) and its line for `hyphae stages`, which differ by kind of stage.
    init(reading config: inout ConfigReader, frameTimeout: (default: Int?, summary: String)) {
        let problemsBefore = config.diagnostics.count
        command = config.stringList("command", default: nil, summary: "the program and its arguments, e.g. [python3, smooth.py, \"--window=${window}\"]; no shell is involved. A name without '/' is looked up on PATH, a relative path starts from working_directory")
        let commandIsReadable = config.diagnostics.count == problemsBefore
        let directory = config.optionalString("working_directory", summary: "the folder the program runs in, relative to the pipeline file's folder (default: that folder; without a file, the host's working directory)")
        environment = config.stringMapping("env", summary: "environment variables for the program, on top of the host's, e.g. {PYTHONUNBUFFERED: \"1\"}")
        restart = config.choice("restart", default: RestartPolicy.onFailure, summary: "never, on_failure (a crash, a kill or a missed deadline) or always (every exit); restarts beyond the budget end the stream with an error")
        maxRestarts = config.int("max_restarts", default: 5, min: 0, max: 1000, summary: "the most restarts within restart_window_ms; one more ends the stream with an error")
        restartWindowMilliseconds = config.int("restart_window_ms", default: 60_000, min: 1, max: 86_400_000, summary: "the period over which restarts are counted")
        restartBackoffMilliseconds = config.int("restart_backoff_ms", default: 100, min: 0, max: 60_000, summary: "the wait before a restart; it doubles with each further restart in the window, up to 10 s (or this value when larger)")
        startupTimeoutMilliseconds = config.int("startup_timeout_ms", default: 10_000, min: 1, max: 86_400_000, summary: "how long a freshly started program has for its first answer (imports included)")
        if let fallback = frameTimeout.default {
            frameTimeoutMilliseconds = config.int("frame_timeout_ms", default: fallback, min: 1, max: 86_400_000, summary: frameTimeout.summary)
        } else {
            frameTimeoutMilliseconds = config.optionalInt("frame_timeout_ms", min: 1, max: 86_400_000, summary: frameTimeout.summary)
        }
        maxLineBytes = config.int("max_line_bytes", default: 1_048_576, min: 64, max: 268_435_456, summary: "the longest line the program may write, in bytes; a longer one ends the stream with an error")

        let folder = Self.pipelineFolder(of: config.file)
        workingDirectory = directory.map { ProgramLookup.absolute($0, against: folder) } ?? folder
        executable = ""
        guard !config.isDescribing else { return }

        if config.contains("working_directory") {
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: workingDirectory, isDirectory: &isFolder) || !isFolder.boolValue {
                config.problem("working_directory", "no folder '\(workingDirectory)'; relative paths start from the pipeline file's folder, '\(folder)'")
            }
        }
        for (name, value) in environment {
            if name.isEmpty || name.contains("=") || name.utf8.contains(0) {
                config.problem("env", "'\(name)' cannot be an environment variable's name; use letters, digits and '_'")
            } else if value.utf8.contains(0) {
                config.problem("env", "the value of '\(name)' contains a NUL character, which no environment can carry")
            }
        }
        guard commandIsReadable else { return }
        guard config.contains("command") else {
            config.problem("command", "missing required field 'command' (the program and its arguments, e.g. [python3, smooth.py])")
            return
        }
        guard let name = command.first else {
            config.problem("command", "expected the program and its arguments, e.g. [python3, smooth.py], found an empty list")
            return
        }
        let searchPath = environment.last { $0.key == "PATH" }?.value
            ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        do {
            executable = try ProgramLookup.resolve(name, searchPath: searchPath, workingDirectory: workingDirectory)
        } catch {
            config.problem("command", error.description)
        }
    }

    /// The folder of the pipeline file when it is one on disk, so that a pipeline and
    /// its programs can move together; otherwise the host's working directory.
    static func pipelineFolder(of file: String?) -> String {
        let current = FileManager.default.currentDirectoryPath
        guard let file, FileManager.default.fileExists(atPath: file) else { return current }
        return URL(fileURLWithPath: ProgramLookup.absolute(file, against: current)).deletingLastPathComponent().path
    }
}
