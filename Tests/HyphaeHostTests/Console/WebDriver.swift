import Foundation
import HyphaeCore
import HyphaeTesting


/// A headless Chromium driven through Debian's chromedriver with W3C WebDriver (JSON over
/// HTTP on loopback): the browser tests' one window on the console. The test starts
/// chromedriver on a free port and stops it; `./test.sh` installs both packages.
final class Browser {
    private let driver: Process
    private let base: URL
    private let sessionID: String
    private let driverLog: URL

    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    /// Where screenshots go: a folder of build output, never committed.
    static let artifacts = PackagePaths.root.appendingPathComponent(".build/console-screenshots")

    private init(driver: Process, base: URL, sessionID: String, driverLog: URL) {
        self.driver = driver
        self.base = base
        self.sessionID = sessionID
        self.driverLog = driverLog
    }

    static func start(windowWidth: Int = 1280, windowHeight: Int = 900) async throws -> Browser {
        for path in [chromium, chromedriver] where !FileManager.default.isExecutableFile(atPath: path) {
            throw ExpectationFailure("\(path) is missing: run ./test.sh (it installs Debian's chromium and chromium-driver)")
        }
        let port = try FreePort.pick()
        let driverLog = FileManager.default.temporaryDirectory.appendingPathComponent("chromedriver-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: driverLog.path, contents: nil)
        let driver = Process()
        driver.executableURL = URL(fileURLWithPath: chromedriver)
        driver.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        driver.standardOutput = try FileHandle(forWritingTo: driverLog)
        driver.standardError = driver.standardOutput
        driver.standardInput = FileHandle.nullDevice
        try driver.run()
        let base = URL(string: "http://127.0.0.1:\(port)")!
        do {
            try await waitForDriver(base)
            let capabilities: JSONValue = [
                "capabilities": [
                    "alwaysMatch": [
                        "browserName": "chrome",
                        "goog:chromeOptions": [
                            "binary": .string(chromium),
                            "args": [
                                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                "--no-first-run", "--disable-extensions", .string("--window-size=\(windowWidth),\(windowHeight)"),
                            ],
                        ],
                        "goog:loggingPrefs": ["browser": "ALL"],
                    ]
                ]
            ]
            let reply = try await request("POST", base.appendingPathComponent("session"), capabilities, timeout: 60)
            guard let sessionID = reply["value"]?["sessionId"]?.stringValue else {
                throw ExpectationFailure("chromedriver made no session: \(reply.jsonText.prefix(500))")
            }
            let browser = Browser(driver: driver, base: base, sessionID: sessionID, driverLog: driverLog)
            _ = try await browser.command("POST", "timeouts", ["script": 30_000, "pageLoad": 30_000])
            return browser
        } catch {
            stopDriver(driver)
            throw error
        }
    }

    private static func waitForDriver(_ base: URL) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        var last = "no answer"
        while ContinuousClock.now < deadline {
            do {
                let status = try await request("GET", base.appendingPathComponent("status"), nil, timeout: 2)
                if status["value"]?["ready"]?.boolValue == true { return }
                last = status.jsonText
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ExpectationFailure("chromedriver did not become ready on \(base): \(last)")
    }

    /// Ends the session and stops chromedriver (which stops Chromium).
    func quit() async {
        _ = try? await Self.request("DELETE", base.appendingPathComponent("session/\(sessionID)"), nil, timeout: 10)
        stopDriver(driver)
        try? FileManager.default.removeItem(at: driverLog)
    }

    // MARK: Commands

    func open(_ url: String) async throws {
        _ = try await command("POST", "url", ["url": .string(url)])
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    @discardableResult
    func run(_ script: String, _ args: [JSONValue] = []) async throws -> JSONValue {
        try await command("POST", "execute/sync", ["script": .string(script), "args": .array(args)])
    }

    /// Runs `script`, which calls `arguments[arguments.length - 1](result)` when done.
    func runAsync(_ script: String, _ args: [JSONValue] = []) async throws -> JSONValue {
        try await command("POST", "execute/async", ["script": .string(script), "args": .array(args)])
    }

    /// Waits until `condition` (an expression) is true in the page; on timeout, fails
    /// naming what it waited for and what `diagnostics` (an expression) shows then.
    func waitUntil(_ what: String, _ condition: String, timeout: Duration = .seconds(30), diagnostics: String = "document.body.innerText.slice(0, 600)") async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await run("return Boolean(\(condition));") == .bool(true) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let seen = (try? await run("return String(\(diagnostics));").stringValue) ?? "?"
        throw ExpectationFailure("timed out waiting for \(what) (\(condition)); the page shows: \(seen)")
    }

    /// The browser's console messages since the last call, as "LEVEL message".
    func consoleMessages() async throws -> [(level: String, message: String)] {
        let entries = try await command("POST", "se/log", ["type": "browser"]).arrayValue ?? []
        return entries.map { ($0["level"]?.stringValue ?? "?", $0["message"]?.stringValue ?? "") }
    }

    /// Saves a PNG of the window to `artifacts/name.png` and returns its URL.
    @discardableResult
    func screenshot(_ name: String) async throws -> URL {
        let encoded = try await command("GET", "screenshot", nil).stringValue ?? ""
        guard let data = Data(base64Encoded: encoded) else { throw ExpectationFailure("the screenshot is not base64") }
        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        let url = Self.artifacts.appendingPathComponent("\(name).png")
        try data.write(to: url)
        return url
    }

    private func command(_ method: String, _ path: String, _ body: JSONValue?) async throws -> JSONValue {
        let reply = try await Self.request(method, base.appendingPathComponent("session/\(sessionID)/\(path)"), body, timeout: 60)
        let value = reply["value"] ?? .null
        if let error = value["error"]?.stringValue {
            throw ExpectationFailure("WebDriver \(path): \(error): \(value["message"]?.stringValue?.prefix(800) ?? "")")
        }
        return value
    }

    private static func request(_ method: String, _ url: URL, _ body: JSONValue?, timeout: Double) async throws -> JSONValue {
        let port = url.port ?? 80
        let path = url.path
        let bytes = Array((body?.jsonText ?? "").utf8)
        // Foundation's URLSession on Linux fails on chromedriver's replies ("Failed writing
        // header"), so the few requests a test makes go over a plain socket, one per request.
        let reply = try await Task.detached { try LoopbackHTTP.exchange(port: port, method: method, path: path, body: bytes, timeout: timeout) }.value
        return try JSONParser.parse(reply)
    }
}

/// chromedriver does not stop on SIGTERM; its session is over (or never began) when this runs.
private func stopDriver(_ driver: Process) {
    if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
    driver.waitUntilExit()
}

/// One HTTP/1.1 request on loopback with `Connection: close`; the reply's body.
enum LoopbackHTTP {
    static func exchange(port: Int, method: String, path: String, body: [UInt8], timeout: Double) throws -> [UInt8] {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ExpectationFailure("socket() failed") }
        defer { close(descriptor) }
        var wait = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw ExpectationFailure("cannot connect to 127.0.0.1:\(port)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        if !body.isEmpty { head += "Content-Type: application/json; charset=utf-8\r\n" }
        let request = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw ExpectationFailure("cannot send to 127.0.0.1:\(port)") }
            sent += written
        }
        // chromedriver says `Connection: close` but keeps the socket open: the reply ends
        // where its Content-Length says (or at the last chunk, or when the peer closes).
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let (headEnd, head) = headOf(received) {
                let bodyBytes = received.count - headEnd - 4
                if let length = contentLength(head), bodyBytes >= length {
                    return Array(received[(headEnd + 4)..<(headEnd + 4 + length)])
                }
                if head.contains("transfer-encoding:chunked"), received.suffix(5) == [48, 13, 10, 13, 10] {
                    return try dechunked(Array(received[(headEnd + 4)...]))
                }
            }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else { throw ExpectationFailure("no complete reply from 127.0.0.1:\(port)\(path) within \(timeout) s") }
            received += buffer[0..<count]
        }
        guard let (headEnd, head) = headOf(received) else { throw ExpectationFailure("no HTTP head in the reply from 127.0.0.1:\(port)\(path)") }
        let payload = Array(received[(headEnd + 4)...])
        return head.contains("transfer-encoding:chunked") ? try dechunked(payload) : payload
    }

    /// Where the head ends, and its text lowercased without spaces.
    private static func headOf(_ bytes: [UInt8]) -> (Int, String)? {
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }) else { return nil }
        return (end, String(decoding: bytes[..<end], as: UTF8.self).lowercased().replacingOccurrences(of: " ", with: ""))
    }

    private static func contentLength(_ head: String) -> Int? {
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            return Int(line.dropFirst("content-length:".count))
        }
        return nil
    }

    private static func dechunked(_ bytes: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = (index..<(bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
                let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16)
            else { throw ExpectationFailure("a malformed chunked reply") }
            if size == 0 { break }
            let start = lineEnd + 2
            guard start + size <= bytes.count else { throw ExpectationFailure("a truncated chunked reply") }
            output += bytes[start..<start + size]
            index = start + size + 2
        }
        return output
    }
}

/// A loopback TCP port nobody listens on now (the kernel's pick for port 0).
enum FreePort {
    static func pick() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ExpectationFailure("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw ExpectationFailure("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
