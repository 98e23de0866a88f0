import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeTesting
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `hyphae serve` as a process: SIGHUP reloads it without dropping anyone, the
/// admin key can come from HYPHAE_ADMIN_KEY, and SIGTERM shuts it down gracefully.
final class ServeSignalTests: XCTestCase {
    func testSIGHUPReloadsAServeProcessWithItsSubscribersConnected() async throws {
        let folder = try TemporaryFolder()
        let pipelinePath = folder.url.appendingPathComponent("alpha.yaml").path
        try writeAtomically(ReloadPipelines.ticker(name: "alpha"), to: pipelinePath)
        let serve = try ReloadServeProcess(
            arguments: ["serve", "--port", "0", "--pipelines", folder.url.path, "--log-format", "json"],
            environment: ["HYPHAE_ADMIN_KEY": "signal-admin-key", "MFN_ENV": "dev"]
        )
        defer { serve.terminate() }
        let port = try await serve.waitForPort()

        let client = try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: "/ws/alpha")
        try await client.subscribeExpectingSuccess("a", to: nil)
        var record = SubscriberRecord(streamID: "a")
        try await client.readFrames(3, into: &record)

        // A SIGHUP with nothing changed: a reload that touches no one.
        XCTAssertEqual(kill(serve.processIdentifier, SIGHUP), 0)
        try await serve.waitForLog { $0.contains("\"event\":\"reload\"") && $0.contains("\"trigger\":\"SIGHUP\"") }
        try await client.readFrames(3, into: &record)
        XCTAssertEqual(record.notices.map(\.rendered), [])

        // A change followed at once by SIGHUP: the subscriber moves, on the same connection.
        let changed = ReloadPipelines.ticker(name: "alpha", revision: 2)
        try writeAtomically(changed, to: pipelinePath)
        XCTAssertEqual(kill(serve.processIdentifier, SIGHUP), 0)
        let reload = try await client.readUntil("stream_reloaded", into: &record)
        XCTAssertEqual(reload.messagePayload["pipeline_version"]?.stringValue, pipelineVersion(of: changed))
        try await client.readFrames(3, into: &record)
        try record.requireContinuousSequences()
        XCTAssertTrue(serve.isRunning, "SIGHUP must not end the process")

        // The admin key came from the environment.
        let admin = try await reloadHTTPRequest(port: port, "GET", "/admin/pipelines/alpha", key: "signal-admin-key")
        XCTAssertEqual(admin.status, 200, admin.body)
        XCTAssertEqual(try admin.json["version"]?.stringValue, pipelineVersion(of: changed))

        // SIGTERM: stream_end server_shutdown, close 1001, exit 0.
        XCTAssertEqual(kill(serve.processIdentifier, SIGTERM), 0)
        let end = try await client.readUntil("stream_end", into: &record)
        XCTAssertEqual(end.messagePayload["reason"], "server_shutdown")
        let close = try await client.next()
        XCTAssertEqual(close, .closeFrame(code: 1001, reason: "server shutting down"))
        let status = try await serve.waitForExit()
        XCTAssertEqual(status, 0, serve.standardError)
    }
}

/// A `hyphae serve` child process whose standard error (the JSON log) is read as it grows.
final class ReloadServeProcess {
    private let process: Process
    private let errorFile: URL

    init(arguments: [String], environment: [String: String]) throws {
        let process = Process()
        process.executableURL = try HyphaeExecutable.url()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, given in given }
        errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("hyphae-serve-\(UUID().uuidString).log")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
            throw ReloadExpectationFailure("cannot create \(errorFile.path)")
        }
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    var processIdentifier: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var standardError: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// The port from the `serving ... on ws://127.0.0.1:PORT` line (or `wss://`).
    func waitForPort(timeout: Duration = .seconds(30)) async throws -> Int {
        var port: Int?
        try await waitForLog(timeout: timeout) { line in
            guard let range = line.range(of: "on ws://127.0.0.1:") ?? line.range(of: "on wss://127.0.0.1:") else { return false }
            port = Int(line[range.upperBound...].prefix { $0.isNumber })
            return port != nil
        }
        guard let port else { throw ReloadExpectationFailure("no port in: \(standardError)") }
        return port
    }

    /// Waits for a line of the log that `matches`.
    func waitForLog(timeout: Duration = .seconds(15), _ matches: (String) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if standardError.split(separator: "\n").contains(where: { matches(String($0)) }) { return }
            guard process.isRunning else { throw ReloadExpectationFailure("hyphae serve exited: \(standardError)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ReloadExpectationFailure("the awaited log line did not come within \(timeout): \(standardError)")
    }

    func waitForExit(timeout: Duration = .seconds(15)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw ReloadExpectationFailure("hyphae serve did not exit within \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationStatus
    }

    func terminate() {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: errorFile)
    }
}
