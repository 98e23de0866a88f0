import Foundation
import HyphaeTesting
import XCTest

/// `hyphae subscribe` against a real `hyphae serve`: what it prints, and how it fails.
final class SubscribeCommandTests: XCTestCase {
    private let apiKey = "subscribe-test-key-41c9"

    /// The client pipelines, and a ticker whose frames are named by a string param.
    private func pipelines() throws -> TemporaryFolder {
        try ClientTestPipelines.folder(adding: ["labelled.yaml": """
            name: labelled
            params:
              label: { type: string, default: tick }
            source:
              type: ticker
              rate: 100
              message_type: ${label}
            sinks:
              - type: websocket
                path: /ws/labelled
            """])
    }

    /// A host in dev without keys: no auth needed.
    private func openHost(_ folder: TemporaryFolder) throws -> RunningHost {
        try RunningHost(
            arguments: ["--pipelines", folder.url.path],
            environment: ["MFN_ENV": "dev", "MFN_API_KEY": "", "MFN_API_KEYS": "", "MFN_API_KEY_REQUIRED": ""])
    }

    /// A host in prod with one key: auth required.
    private func guardedHost(_ folder: TemporaryFolder) throws -> RunningHost {
        try RunningHost(
            arguments: ["--pipelines", folder.url.path],
            environment: ["MFN_ENV": "prod", "MFN_API_KEY": apiKey, "MFN_API_KEYS": "", "MFN_API_KEY_REQUIRED": ""])
    }

    private func subscribe(_ arguments: [String], environment: [String: String] = ["MFN_API_KEY": ""]) throws -> CommandResult {
        try runHyphae(["subscribe"] + arguments, environment: environment, timeout: 60)
    }

    /// The `type` of each JSON line printed.
    private func types(_ result: CommandResult) -> [String] {
        result.outputLines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["type"] as? String
        }
    }

    /// A runtime failure: status 1, `error: ...` on standard error, no usage block.
    private func assertRuntimeFailure(_ result: CommandResult, saying message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 1, result.description, file: file, line: line)
        XCTAssertTrue(result.standardError.hasPrefix("error: "), result.description, file: file, line: line)
        XCTAssertTrue(result.standardError.contains(message), "expected \"\(message)\" in\n\(result)", file: file, line: line)
        XCTAssertFalse(result.standardError.contains("Usage:"), "a runtime failure is not a usage error\n\(result)", file: file, line: line)
    }

    func testPrintsTheFramesAskedForWithParamsReadAsJSON() throws {
        let folder = try pipelines()
        let host = try openHost(folder)
        let result = try subscribe(["ws://127.0.0.1:\(host.port)/ws", "--pipeline", "ticker", "--param", "rate=200", "--frames", "3"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(types(result).filter { $0 != "heartbeat" }, ["subscribe_success", "tick", "tick", "tick"], result.description)
        XCTAssertTrue(result.standardOutput.contains(#""params":{"rate":200.0}"#), "the number was sent as a number\n\(result)")
    }

    func testTheOldStreamOptionStillWorksButIsNotAdvertised() throws {
        let folder = try pipelines()
        let host = try openHost(folder)
        let result = try subscribe(["ws://127.0.0.1:\(host.port)/ws", "--stream", "ticker", "--param", "rate=200", "--frames", "1"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(types(result).filter { $0 != "heartbeat" }, ["subscribe_success", "tick"], result.description)

        let help = try runHyphae(["subscribe", "--help"])
        XCTAssertTrue(help.standardOutput.contains("--pipeline <pipeline>"), help.description)
        XCTAssertFalse(help.standardOutput.contains("--stream "), help.description)

        let both = try subscribe(["ws://127.0.0.1:\(host.port)/ws", "--pipeline", "ticker", "--stream", "countdown"])
        XCTAssertEqual(both.status, 64, both.description)
        XCTAssertTrue(both.standardError.contains("--stream is the old name of --pipeline; give only --pipeline"), both.description)
    }

    func testAValueThatIsNotJSONIsSentAsTextAndTheHostChecksIt() throws {
        let folder = try pipelines()
        let host = try openHost(folder)
        let url = "ws://127.0.0.1:\(host.port)/ws/labelled"

        let text = try subscribe([url, "--param", "label=blip", "--frames", "1"])
        XCTAssertEqual(text.status, 0, text.description)
        XCTAssertEqual(types(text).filter { $0 != "heartbeat" }, ["subscribe_success", "blip"], text.description)

        let digits = try subscribe([url, "--param", "label=123", "--frames", "1"])
        assertRuntimeFailure(digits, saying: "error: the host refused the subscription: param 'label': expected a string, found 123 (SUBSCRIBE_ERROR)")

        let quoted = try subscribe([url, "--param", #"label="123""#, "--frames", "1"])
        XCTAssertEqual(quoted.status, 0, quoted.description)
        XCTAssertEqual(types(quoted).filter { $0 != "heartbeat" }, ["subscribe_success", "123"], quoted.description)
    }

    func testAFiniteStreamEndsWithStatusZero() throws {
        let folder = try pipelines()
        let host = try openHost(folder)
        let result = try subscribe(["ws://127.0.0.1:\(host.port)/ws/countdown", "--param", "count=3"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(types(result).filter { $0 != "heartbeat" }, ["subscribe_success", "step", "step", "step", "stream_end"], result.description)
    }

    func testAWrongKeyIsARuntimeFailureNotAUsageError() throws {
        let folder = try pipelines()
        let host = try guardedHost(folder)
        let result = try subscribe(["ws://127.0.0.1:\(host.port)/ws", "--pipeline", "ticker", "--api-key", "not-the-key", "--frames", "1"])
        assertRuntimeFailure(result, saying: "error: authentication failed: Invalid API key or timestamp (AUTH_FAILED); check the key given with --api-key or MFN_API_KEY")
        XCTAssertEqual(result.standardOutput, "", "nothing was subscribed")
    }

    func testTheKeyIsReadFromMFNAPIKeyWhenNotGiven() throws {
        let folder = try pipelines()
        let host = try guardedHost(folder)
        let url = "ws://127.0.0.1:\(host.port)/ws"

        let fromEnvironment = try subscribe([url, "--pipeline", "ticker", "--param", "rate=200", "--frames", "2"], environment: ["MFN_API_KEY": apiKey])
        XCTAssertEqual(fromEnvironment.status, 0, fromEnvironment.description)
        XCTAssertEqual(types(fromEnvironment).filter { $0 != "heartbeat" }, ["subscribe_success", "tick", "tick"], fromEnvironment.description)

        let flagWins = try subscribe([url, "--pipeline", "ticker", "--api-key", "not-the-key", "--frames", "1"], environment: ["MFN_API_KEY": apiKey])
        assertRuntimeFailure(flagWins, saying: "authentication failed")

        let noKey = try subscribe([url, "--pipeline", "ticker", "--frames", "1"], environment: ["MFN_API_KEY": ""])
        assertRuntimeFailure(noKey, saying: "(NOT_AUTHENTICATED); this host requires a key: give --api-key or set MFN_API_KEY")
    }

    func testARefusedConnectionIsARuntimeFailure() throws {
        // Port 1 (tcpmux) is privileged and has no listener on a test machine.
        let result = try subscribe(["ws://127.0.0.1:1/ws", "--pipeline", "ticker"])
        assertRuntimeFailure(result, saying: "error: cannot connect to ws://127.0.0.1:1/ws: ")
        XCTAssertTrue(result.standardError.contains("check that `hyphae serve` is running there"), result.description)
    }

    func testAnUnknownPipelineIsRefusedByTheHost() throws {
        let folder = try pipelines()
        let host = try openHost(folder)
        let result = try subscribe(["ws://127.0.0.1:\(host.port)/ws", "--pipeline", "tikcer"])
        assertRuntimeFailure(result, saying: "did you mean 'ticker'?")
        XCTAssertTrue(result.standardError.contains("(UNKNOWN_STREAM)"), result.description)
    }

    func testWhenTheHostShutsDownItReconnectsToTheNextURLAndGoesOn() throws {
        let folder = try pipelines()
        let first = try openHost(folder)
        let second = try openHost(folder)
        let urls = ["ws://127.0.0.1:\(first.port)/ws", "ws://127.0.0.1:\(second.port)/ws"]
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<CommandResult, any Error>?
        DispatchQueue.global().async {
            outcome = Result {
                try runHyphae(["subscribe"] + urls + ["--pipeline", "ticker", "--param", "rate=5", "--frames", "20"], environment: ["MFN_API_KEY": ""], timeout: 60)
            }
            finished.signal()
        }
        // Once the first host serves the subscription, it goes away.
        XCTAssertTrue(first.logContains("\"subscribed\"", within: 30), first.log)
        first.stop()
        XCTAssertEqual(finished.wait(timeout: .now() + 90), .success)
        let result = try XCTUnwrap(outcome).get()
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertTrue(result.standardError.contains("reconnected to \(urls[1]) (attempt 1)"), result.description)
        let messages = result.outputLines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        let replies = messages.filter { $0["type"] as? String == "subscribe_success" }.compactMap { $0["payload"] as? [String: Any] }
        XCTAssertEqual(replies.count, 2, result.description)
        XCTAssertEqual(replies.last?["recovered"] as? Bool, false, "another host, another epoch")
        XCTAssertNotEqual(replies.first?["epoch"] as? String, replies.last?["epoch"] as? String)
        let ticks = messages.filter { $0["type"] as? String == "tick" }
        XCTAssertEqual(ticks.count, 20, "--frames counts across the reconnection")
        let stream = types(result).filter { $0 != "heartbeat" }
        XCTAssertEqual(stream.first, "subscribe_success")
        XCTAssertTrue(stream.contains("stream_end"), "the first host said it was shutting down: \(stream)")
    }

    func testAURLThatIsNotWebSocketIsAUsageError() throws {
        let result = try subscribe(["http://127.0.0.1:8080/ws"])
        XCTAssertEqual(result.status, 64, result.description)
        XCTAssertTrue(result.standardError.contains("expected a URL like ws://127.0.0.1:8080/ws"), result.description)
        XCTAssertTrue(result.standardError.contains("Usage:"), result.description)
    }
}
