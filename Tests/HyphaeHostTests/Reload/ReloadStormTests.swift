import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeTesting
import Synchronization
import XCTest

/// 200 subscribers across four pipelines while one pipeline file is rewritten 100
/// times in 10 s, valid and invalid versions interleaved, with admin reloads
/// thrown in to overlap the watcher's.
final class ReloadStormTests: XCTestCase {
    static let subscribersPerCalmPipeline = 40
    static let stormSubscribers = 80
    static let rewrites = 100
    static let rewriteInterval = Duration.milliseconds(100)

    func testReloadStormLosesNoConnectionAndEndsEveryoneOnTheLastValidVersion() async throws {
        let calmPipelines = ["calm1", "calm2", "calm3"]
        var files = ["storm.yaml": Self.stormRevision(0)]
        for name in calmPipelines { files["\(name).yaml"] = ReloadPipelines.ticker(name: name, rate: 4) }
        let host = try await ReloadTestHost.start(files: files)
        addTeardownBlock { await host.stop() }

        // Connect everyone: half the storm subscribers set payload_bytes, half take its default.
        var plans: [(streamID: String, pipeline: String, params: JSONObject?)] = []
        for index in 0..<Self.stormSubscribers {
            plans.append(("storm-\(index)", "storm", index.isMultiple(of: 2) ? ["payload_bytes": 3] : nil))
        }
        for name in calmPipelines {
            for index in 0..<Self.subscribersPerCalmPipeline { plans.append(("\(name)-\(index)", name, nil)) }
        }
        let port = host.port
        var clients: [(client: ProtocolClient, streamID: String, pipeline: String)] = []
        for batch in stride(from: 0, to: plans.count, by: 25) {
            try await withThrowingTaskGroup(of: (ProtocolClient, String, String).self) { group in
                for plan in plans[batch..<min(batch + 25, plans.count)] {
                    group.addTask {
                        let client = try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: "/ws")
                        try await client.subscribeExpectingSuccess(plan.streamID, to: plan.pipeline, params: plan.params)
                        return (client, plan.streamID, plan.pipeline)
                    }
                }
                for try await connected in group { clients.append(connected) }
            }
        }
        XCTAssertEqual(clients.count, 200)

        // Every subscriber reads on its own until told to stop.
        let stop = StopSignal()
        let connected = clients
        let readers = Task {
            await withTaskGroup(of: (String, SubscriberRecord, Bool).self) { group in
                for (client, streamID, pipeline) in connected {
                    group.addTask {
                        var record = SubscriberRecord(streamID: streamID)
                        while !stop.isRaised {
                            do {
                                try await client.readFor(.milliseconds(300), into: &record)
                            } catch {
                                if record.connectionLost == nil { record.connectionLost = "\(error)" }
                                break
                            }
                        }
                        return (pipeline, record, client.isActive)
                    }
                }
                var results: [(String, SubscriberRecord, Bool)] = []
                for await result in group { results.append(result) }
                return results
            }
        }
        let memory = MemorySampler()
        let sampling = Task {
            while !stop.isRaised {
                memory.sample()
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        try await Task.sleep(for: .seconds(1))
        try await host.waitUntilReloadsSettle(quiet: .milliseconds(400))
        let residentBefore = residentKilobytes() ?? 0
        memory.resetPeak()
        let reloadsBefore = host.reloadCount

        // The storm: 100 rewrites in about 10 s; every tenth also asks for a reload over the admin API.
        var lastValid = Self.stormRevision(0)
        var adminReloads: [Task<Int, Never>] = []
        let stormStarted = ContinuousClock.now
        for revision in 1...Self.rewrites {
            let text = Self.stormRevision(revision)
            try host.write("storm.yaml", text)
            if Self.isValidRevision(revision) { lastValid = text }
            if revision.isMultiple(of: 10) {
                adminReloads.append(Task { (try? await reloadHTTPRequest(port: port, "POST", "/admin/reload", key: ReloadTestHost.adminKey).status) ?? -1 })
            }
            try await Task.sleep(until: stormStarted + Self.rewriteInterval * revision)
        }
        let stormDuration = ContinuousClock.now - stormStarted
        var adminStatuses: [Int] = []
        for reload in adminReloads { adminStatuses.append(await reload.value) }
        try await host.waitUntilReloadsSettle()
        // Let everyone receive a few frames of the final state, then stop reading.
        try await Task.sleep(for: .seconds(2))
        memory.sample()
        let residentAfterStorm = residentKilobytes() ?? 0
        stop.raise()
        let results = await readers.value
        await sampling.value
        let reloadsAfter = host.reloadCount

        let expectedVersion = pipelineVersion(of: lastValid)
        let detail = try await host.adminPipeline("storm")
        print("""
            reload storm: \(Self.rewrites) rewrites in \(stormDuration); reloads: \(reloadsAfter.success - reloadsBefore.success) succeeded, \
            \(reloadsAfter.failed - reloadsBefore.failed) failed; admin reload statuses \(adminStatuses); \
            RSS before \(residentBefore) KiB, peak \(memory.peak) KiB, after \(residentAfterStorm) KiB; \
            final version \(detail["version"]?.stringValue ?? "?") (last valid file: \(expectedVersion))
            """)

        XCTAssertEqual(detail["version"]?.stringValue, expectedVersion, "the host runs the last valid version")
        XCTAssertEqual(detail["status"], "running")
        XCTAssertEqual(results.count, 200)
        var stormReloadCounts: [Int] = []
        for (pipeline, record, isActive) in results {
            XCTAssertNil(record.connectionLost, "\(record.streamID) lost its connection")
            XCTAssertTrue(isActive, "\(record.streamID) is no longer connected")
            XCTAssertEqual(record.sequenceProblems, [], "\(record.streamID)")
            XCTAssertNil(record.end, "\(record.streamID) ended: \(record.end?.rendered ?? "")")
            XCTAssertGreaterThan(record.sequences.count, 10, "\(record.streamID) kept receiving frames")
            if pipeline == "storm" {
                XCTAssertEqual(record.reloadedVersions.last, expectedVersion, "\(record.streamID) ends on the last valid version")
                stormReloadCounts.append(record.reloads.count)
            } else {
                XCTAssertEqual(record.notices.map(\.rendered), [], "\(record.streamID) is on an unchanged pipeline")
            }
        }
        print("stream_reloaded per storm subscriber: min \(stormReloadCounts.min() ?? 0), max \(stormReloadCounts.max() ?? 0)")
        // No instance outlives its version: the storm pipeline runs one instance per params.
        XCTAssertEqual(host.metric("hyphae_pipeline_instances{pipeline=\"storm\"}"), 2, host.server.host.metrics.render())
        XCTAssertEqual(detail["instances"]?.arrayValue?.count, 2, detail.rendered)
        XCTAssertEqual(host.metric("hyphae_subscriptions"), 200)
        // Memory comes back to about where it was; glibc keeps some freed pages, hence the slack.
        XCTAssertLessThan(residentAfterStorm, residentBefore + 64 * 1024, "RSS before \(residentBefore) KiB, after \(residentAfterStorm) KiB")
        for (client, _, _) in clients { await client.disconnect() }
    }

    /// The storm pipeline's text at each revision: a ticker whose description and
    /// payload default change; every fourth revision from the 1st is invalid. The
    /// last one is valid: an invalid last write would hide the valid ones just before
    /// it from a watcher that coalesces them.
    static func stormRevision(_ revision: Int) -> String {
        guard isValidRevision(revision) else { return ReloadPipelines.invalid(name: "storm", revision: revision) }
        return ReloadPipelines.ticker(name: "storm", path: "/ws/storm", revision: revision, rate: 4, payloadBytes: revision % 5)
    }

    static func isValidRevision(_ revision: Int) -> Bool {
        revision % 4 != 1
    }
}

/// Tells the readers of a test to stop.
final class StopSignal: Sendable {
    private let raised = Atomic<Bool>(false)

    var isRaised: Bool { raised.load(ordering: .relaxed) }

    func raise() { raised.store(true, ordering: .relaxed) }
}

/// The highest resident set size seen since the last reset, in KiB.
final class MemorySampler: Sendable {
    private let highest = Mutex(0)

    var peak: Int { highest.withLock { $0 } }

    func sample() {
        guard let current = residentKilobytes() else { return }
        highest.withLock { $0 = max($0, current) }
    }

    func resetPeak() {
        highest.withLock { $0 = residentKilobytes() ?? 0 }
    }
}
