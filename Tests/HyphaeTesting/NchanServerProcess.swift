import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real nginx with the nchan module (Debian's `nginx` and `libnginx-mod-nchan`;
/// ./test.sh installs them), started by `Tests/bench/nchan-server.sh` on a free
/// loopback port with its files in a temporary folder, and stopped by the test.
/// `POST publishURL` publishes to the one channel; `subscribeURL` is its WebSocket.
public final class NchanServerProcess: @unchecked Sendable {
    public let port: Int
    private var process: Process?
    private let folder: TemporaryFolder

    public var publishURL: String { "http://127.0.0.1:\(port)/pub" }
    public var subscribeURL: String { "ws://127.0.0.1:\(port)/sub" }
    /// nginx's master process.
    public var pid: Int32? { process?.processIdentifier }

    private init(port: Int, folder: TemporaryFolder) {
        self.port = port
        self.folder = folder
    }

    public static func start() async throws -> NchanServerProcess {
        let server = NchanServerProcess(port: try LoopbackPort.free(), folder: try TemporaryFolder())
        try await server.launch()
        return server
    }

    private func launch() async throws {
        let script = PackagePaths.root.appendingPathComponent("Tests/bench/nchan-server.sh")
        let process = Process()
        process.executableURL = script
        process.arguments = [folder.url.path, String(port)]
        let errorLog = folder.url.appendingPathComponent("start.log")
        guard FileManager.default.createFile(atPath: errorLog.path, contents: nil) else {
            throw NchanProcessError("cannot create \(errorLog.path)")
        }
        let errorHandle = try FileHandle(forWritingTo: errorLog)
        defer { try? errorHandle.close() }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errorHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        guard try await LoopbackPort.waitUntilListening(port, by: process) else {
            stop()
            let said = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
            throw NchanProcessError("nginx with nchan did not listen on 127.0.0.1:\(port) within 20 s (run ./test.sh, which installs Debian's nginx and libnginx-mod-nchan): \(said)")
        }
    }

    /// Starts `Tests/bench/publisher.py` publishing `count` ticker frames at `rate` per
    /// second (every `malformedEvery`-th message not a data frame); `waitForPublisher`
    /// says how it ended.
    public func startPublishing(count: Int, rate: Double, malformedEvery: Int = 0) throws -> Process {
        guard let python = executableOnPath("python3") else { throw NchanProcessError("python3 is not on the PATH") }
        let process = Process()
        process.executableURL = python
        process.arguments = [
            PackagePaths.root.appendingPathComponent("Tests/bench/publisher.py").path, "--url", publishURL,
            "--rate", String(rate), "--count", String(count), "--malformed-every", String(malformedEvery),
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits for a publisher started by `startPublishing`; throws unless it published all.
    public static func waitForPublisher(_ process: Process) throws {
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NchanProcessError("publisher.py exited with \(process.terminationStatus) (its error is above)")
        }
    }

    /// Stops nginx (SIGTERM, its fast shutdown) and waits for it to exit.
    public func stop() {
        guard let process else { return }
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        self.process = nil
    }

    deinit {
        stop()
    }
}

public struct NchanProcessError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
