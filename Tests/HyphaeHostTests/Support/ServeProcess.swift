import Foundation
import HyphaeClient
import HyphaeTesting

/// `hyphae serve` as a real process on a free port, for what needs one: signals
/// and the process's exit. Its output goes to files, read when needed.
final class ServeProcess {
    let process: Process
    let port: Int
    private let outputFolder: TemporaryFolder
    private let errorURL: URL

    private init(process: Process, port: Int, outputFolder: TemporaryFolder, errorURL: URL) {
        self.process = process
        self.port = port
        self.outputFolder = outputFolder
        self.errorURL = errorURL
    }

    /// Starts `hyphae serve --port PORT <arguments>` (0: a free port) and waits for the line that names its port.
    static func start(_ arguments: [String], environment: [String: String], port: Int = 0, startupTimeout: Duration = .seconds(30)) async throws -> ServeProcess {
        let outputFolder = try TemporaryFolder()
        let outputURL = outputFolder.url.appendingPathComponent("stdout")
        let errorURL = outputFolder.url.appendingPathComponent("stderr")
        guard FileManager.default.createFile(atPath: outputURL.path, contents: nil),
            FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        else {
            throw ExpectationFailure("cannot create the output files in \(outputFolder.url.path)")
        }
        let process = Process()
        process.executableURL = try HyphaeExecutable.url()
        process.arguments = ["serve", "--port", String(port)] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()

        let deadline = ContinuousClock.now + startupTimeout
        while true {
            let text = (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
            if let port = Self.port(in: text) {
                return ServeProcess(process: process, port: port, outputFolder: outputFolder, errorURL: errorURL)
            }
            guard process.isRunning, ContinuousClock.now < deadline else {
                if process.isRunning { process.terminate() }
                throw ExpectationFailure("hyphae serve did not report its port (exit: \(process.isRunning ? "still running" : String(process.terminationStatus))); stderr:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The port in `serving N pipelines on ws://127.0.0.1:PORT` (or `wss://`).
    private static func port(in text: String) -> Int? {
        guard let marker = text.range(of: "on ws://127.0.0.1:") ?? text.range(of: "on wss://127.0.0.1:") else { return nil }
        let digits = text[marker.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    var standardError: String {
        (try? String(contentsOf: errorURL, encoding: .utf8)) ?? ""
    }

    func connect(_ path: String = "/ws") async throws -> ProtocolClient {
        try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: path)
    }

    /// Waits for the process to exit; nil when it is still running after `timeout`.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Kills the process if a failed test left it running.
    func killIfRunning() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        withExtendedLifetime(outputFolder) {}
    }
}
