import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a run of the `hyphae` executable printed and how it exited.
public struct CommandResult: Sendable, CustomStringConvertible {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String

    public var outputLines: [String] {
        standardOutput.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    public var errorLines: [String] {
        standardError.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    public var description: String {
        "exit status \(status)\n--- stdout ---\n\(standardOutput)--- stderr ---\n\(standardError)"
    }
}

public enum HyphaeExecutableError: Error, CustomStringConvertible {
    case notBuilt(searched: [String])
    case timedOut(arguments: [String], seconds: Double)

    public var description: String {
        switch self {
        case .notBuilt(let searched):
            "the hyphae executable is not built; run `swift build` first (looked in: \(searched.joined(separator: ", ")))"
        case .timedOut(let arguments, let seconds):
            "hyphae \(arguments.joined(separator: " ")) did not exit within \(seconds) s; it was terminated"
        }
    }
}

/// Finds the `hyphae` executable next to the test products of this build.
public enum HyphaeExecutable {
    /// The folders a build puts its products in, most specific first. `HYPHAE_EXECUTABLE`
    /// overrides the search.
    static var candidateFolders: [URL] {
        var folders: [URL] = []
        // Linux runs the tests as `<products>/HyphaePackageTests.xctest`, an executable.
        if let executable = Bundle.main.executableURL {
            folders.append(executable.deletingLastPathComponent())
        }
        // macOS loads `<products>/HyphaePackageTests.xctest` as a bundle into xctest.
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            folders.append(bundle.bundleURL.deletingLastPathComponent())
        }
        folders.append(PackagePaths.root.appendingPathComponent(".build/debug"))
        return folders
    }

    public static func url() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["HYPHAE_EXECUTABLE"] {
            return URL(fileURLWithPath: override)
        }
        let candidates = candidateFolders.map { $0.appendingPathComponent("hyphae") }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) {
            return found
        }
        throw HyphaeExecutableError.notBuilt(searched: candidates.map(\.path))
    }
}

/// Runs the built `hyphae` with `arguments` in `directory` (the package root by
/// default) and collects its output. A run that outlives `timeout` is terminated and
/// reported as an error, so that a hanging command fails its test instead of the suite.
public func runHyphae(
    _ arguments: [String],
    in directory: URL = PackagePaths.root,
    environment: [String: String]? = nil,
    timeout: Double = 30
) throws -> CommandResult {
    try runProgram(HyphaeExecutable.url(), arguments, in: directory, environment: environment, timeout: timeout)
}

/// Runs any program, as `runHyphae` runs `hyphae`: output collected, a deadline enforced.
public func runProgram(
    _ executable: URL,
    _ arguments: [String],
    in directory: URL = PackagePaths.root,
    environment: [String: String]? = nil,
    timeout: Double = 30
) throws -> CommandResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = directory
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
    }
    // Files rather than pipes: nothing can fill up and block the child while we wait.
    let outputFolder = try TemporaryFolder()
    let outputURL = outputFolder.url.appendingPathComponent("stdout")
    let errorURL = outputFolder.url.appendingPathComponent("stderr")
    guard FileManager.default.createFile(atPath: outputURL.path, contents: nil),
        FileManager.default.createFile(atPath: errorURL.path, contents: nil)
    else {
        throw CocoaError(.fileWriteUnknown)
    }
    let outputHandle = try FileHandle(forWritingTo: outputURL)
    let errorHandle = try FileHandle(forWritingTo: errorURL)
    defer {
        try? outputHandle.close()
        try? errorHandle.close()
    }
    process.standardOutput = outputHandle
    process.standardError = errorHandle
    process.standardInput = FileHandle.nullDevice

    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    if exited.wait(timeout: .now() + timeout) == .timedOut {
        process.terminate()
        _ = exited.wait(timeout: .now() + 5)
        throw HyphaeExecutableError.timedOut(arguments: [executable.lastPathComponent] + arguments, seconds: timeout)
    }
    return CommandResult(
        status: process.terminationStatus,
        standardOutput: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
        standardError: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
    )
}

/// The first executable called `name` on the PATH.
public func executableOnPath(_ name: String) -> URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for folder in path.split(separator: ":") where !folder.isEmpty {
        let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
}

/// `hyphae serve` running as a child process on a free loopback port. It is stopped
/// (SIGTERM, then SIGKILL) by `stop()` or when the value goes away.
public final class RunningHost {
    public let port: Int
    private let process: Process
    private let exited = DispatchSemaphore(value: 0)
    private let folder: TemporaryFolder
    private let logURL: URL
    private var stopped = false

    /// Starts `hyphae serve --port 0` with `arguments` added, and waits until it
    /// says which port it listens on.
    public init(arguments: [String] = [], environment: [String: String] = [:], startTimeout: Double = 30) throws {
        folder = try TemporaryFolder()
        logURL = folder.url.appendingPathComponent("serve.log")
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        let log = try FileHandle(forWritingTo: logURL)
        defer { try? log.close() }
        process = Process()
        process.executableURL = try HyphaeExecutable.url()
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0", "--log-format", "json"] + arguments
        process.currentDirectoryURL = PackagePaths.root
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        try process.run()

        // `serve` writes "hyphae <version> serving N pipelines on ws://HOST:PORT" (wss:// with TLS) once it listens.
        let deadline = Date().addingTimeInterval(startTimeout)
        var found: Int?
        while found == nil, Date() < deadline, process.isRunning {
            let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.contains(" serving ") && ($0.contains("ws://") || $0.contains("wss://")) }),
                let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) })
            {
                found = port
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        guard let found else {
            let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if process.isRunning { process.terminate() }
            throw ClientProgramError("hyphae serve did not start listening within \(startTimeout) s; its output:\n\(text)")
        }
        port = found
    }

    /// What the host has logged so far.
    public var log: String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// Whether the log comes to contain `text` within `timeout` seconds. The host writes its
    /// log lines from a thread of their own, so a line may trail what the host has done.
    public func logContains(_ text: String, within timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !log.contains(text) {
            guard Date() < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return true
    }

    public var isRunning: Bool { process.isRunning }

    /// Asks the host to shut down gracefully and waits for it; kills it after `timeout`.
    @discardableResult
    public func stop(timeout: Double = 15) -> Int32? {
        guard !stopped else { return process.isRunning ? nil : process.terminationStatus }
        stopped = true
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        stop()
    }
}

/// A helper program that could not be run or did not behave.
public struct ClientProgramError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
