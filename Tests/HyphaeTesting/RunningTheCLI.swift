import Foundation

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
    let process = Process()
    process.executableURL = try HyphaeExecutable.url()
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
        throw HyphaeExecutableError.timedOut(arguments: arguments, seconds: timeout)
    }
    return CommandResult(
        status: process.terminationStatus,
        standardOutput: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
        standardError: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
    )
}
