import Foundation
import HyphaeBench
import HyphaeCore
import HyphaeTesting
import Synchronization
import XCTest

/// `hyphae bench run --raw`: the bench loads a server that speaks no protocol, here a
/// real nginx with nchan on loopback fed by `Tests/bench/publisher.py`.
final class RawBenchTests: XCTestCase {
    func testTheBenchCountsNchansFramesAndItsMalformedOnesAsErrors() async throws {
        let nchan = try await NchanServerProcess.start()
        defer { nchan.stop() }
        var plan = LoadPlan()
        plan.target(raw: try RawTarget(url: nchan.subscribeURL))
        plan.clients = 10
        plan.rampPerSecond = 200
        plan.warmUpSeconds = 0
        plan.durationSeconds = 5
        plan.threads = 2
        if let pid = nchan.pid { plan.hostPIDs = [pid] }
        // Published once every client is subscribed (nchan sends a subscriber only what
        // comes after it joined), so each must see every message: 100, of which every
        // 5th is not a data frame, so 80 frames with sequences 0 to 79 and 20 errors.
        let publisher = Mutex<Result<Process, any Error>?>(nil)
        let generator = try LoadGenerator(plan: plan) { line in
            guard line.contains("subscribed in") else { return }
            publisher.withLock { $0 = Result { try nchan.startPublishing(count: 100, rate: 200, malformedEvery: 5) } }
        }
        let report = try await generator.run()
        let started = try XCTUnwrap(publisher.withLock { $0 }, "the bench never reported its clients subscribed")
        try NchanServerProcess.waitForPublisher(try started.get())

        XCTAssertEqual(report.connected, 10, report.table)
        XCTAssertEqual(report.subscribed, 10, report.table)
        XCTAssertEqual(report.framesTotal, 10 * 80, report.table)
        XCTAssertEqual(report.errorMessages, 10 * 20, report.table)
        XCTAssertEqual(report.gapsTotal, 0, report.table)
        XCTAssertEqual(report.disconnects, 0, report.table)
        XCTAssertEqual(report.refusals, 0, report.table)
        XCTAssertGreaterThan(report.latencyMilliseconds(0.5), 0, report.table)
        XCTAssertNotNil(report.hostCPUSeconds, "nginx's CPU time is read from /proc\n\(report.table)")
        XCTAssertTrue(report.table.contains("raw: no protocol"), report.table)
        XCTAssertEqual(report.json.objectValue?["wire"], "raw")
    }

    func testARawURLIsValidated() throws {
        let target = try RawTarget(url: "ws://127.0.0.1:8080/sub?id=a")
        XCTAssertEqual(target.host, "127.0.0.1")
        XCTAssertEqual(target.port, 8080)
        XCTAssertEqual(target.path, "/sub?id=a")
        XCTAssertFalse(target.usesTLS)
        XCTAssertEqual(try RawTarget(url: "wss://example.org").port, 443)
        XCTAssertEqual(try RawTarget(url: "wss://example.org").path, "/")
        for (url, complaint) in [
            ("http://127.0.0.1/sub", "has the scheme 'http'"), ("not a url", "is not a URL"), ("ws:///sub", "names no host"),
            ("ws://127.0.0.1:70000/sub", "70000"),
        ] {
            XCTAssertThrowsError(try RawTarget(url: url), url) { error in
                XCTAssertTrue("\(error)".contains(complaint), "\(url): \(error)")
            }
        }
        var plan = LoadPlan()
        plan.target(raw: try RawTarget(url: "ws://127.0.0.1:8080/sub"))
        plan.apiKey = "key"
        XCTAssertThrowsError(try plan.validate()) { error in
            XCTAssertTrue("\(error)".contains("--raw does not go with --api-key"), "\(error)")
        }
    }
}
