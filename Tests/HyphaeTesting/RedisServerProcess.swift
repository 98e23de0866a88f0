import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `redis-server` (Debian's package; ./test.sh installs it) on a free loopback
/// port, with no persistence, started and stopped by the test. `stop` and `restart`
/// keep the port, so that clients see the same server go away and come back.
public final class RedisServerProcess: @unchecked Sendable {
    public let port: Int
    public let password: String?
    /// With TLS (`rediss://`), the certificate and key files it serves; plain TCP is then off.
    public let tls: (certificateFile: String, keyFile: String)?
    private var process: Process?
    private let folder: TemporaryFolder

    public var url: String {
        let scheme = tls == nil ? "redis" : "rediss"
        let host = tls == nil ? "127.0.0.1" : "localhost"
        return password.map { "\(scheme)://:\($0)@\(host):\(port)" } ?? "\(scheme)://\(host):\(port)"
    }

    private init(port: Int, password: String?, tls: (certificateFile: String, keyFile: String)?, folder: TemporaryFolder) {
        self.port = port
        self.password = password
        self.tls = tls
        self.folder = folder
    }

    /// Starts one; throws, saying how to install it, when `redis-server` is missing.
    /// With `tls`, it serves TLS only, with that certificate (for `localhost`).
    public static func start(password: String? = nil, tls: (certificateFile: String, keyFile: String)? = nil) async throws -> RedisServerProcess {
        let server = RedisServerProcess(port: try LoopbackPort.free(), password: password, tls: tls, folder: try TemporaryFolder())
        try await server.launch()
        return server
    }

    public static var executable: String? {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private func launch() async throws {
        guard let executable = Self.executable else {
            throw RedisProcessError("redis-server is not installed; run ./test.sh (it installs Debian's redis-server) or apt-get install redis-server")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        let ports = tls.map { ["--port", "0", "--tls-port", String(port), "--tls-cert-file", $0.certificateFile, "--tls-key-file", $0.keyFile, "--tls-auth-clients", "no"] }
            ?? ["--port", String(port)]
        var arguments = ports + [
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", folder.url.path, "--daemonize", "no", "--loglevel", "warning",
        ]
        if let password { arguments += ["--requirepass", password] }
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        guard try await LoopbackPort.waitUntilListening(port, by: process) else {
            stop()
            throw RedisProcessError("redis-server did not listen on 127.0.0.1:\(port) within 20 s")
        }
    }

    /// Stops the server (SIGKILL: connections drop as in a crash) and waits for it to exit.
    public func stop() {
        guard let process else { return }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        self.process = nil
    }

    /// Starts it again on the same port, empty.
    public func restart() async throws {
        stop()
        try await launch()
    }

    deinit {
        stop()
    }

    /// Runs `redis-cli` against it and returns what it printed.
    public func cli(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        process.arguments = ["-p", String(port)] + (password.map { ["-a", $0, "--no-auth-warning"] } ?? []) + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

public struct RedisProcessError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
