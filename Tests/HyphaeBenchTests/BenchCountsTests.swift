import HyphaeBench
import HyphaeCore
import HyphaeHost
import HyphaePlugins
import HyphaeTesting
import Logging
import XCTest

/// Runs the bench against a real host on loopback and checks its counts against
/// the host's own counters (`GET /pipelines`: frames_sent, frames_dropped).
final class BenchCountsTests: XCTestCase {
    /// Finite tickers (a run per subscriber), so that every frame sent has arrived
    /// once each subscriber has its `stream_end`.
    static let countedPipelines = [
        ("counted.yaml", PipelineFixtures.countedTicker(name: "counted", queueSize: 1000)),
        ("counted_small_queue.yaml", PipelineFixtures.countedTicker(name: "counted_small_queue", queueSize: 4)),
    ]

    private var folder: TemporaryFolder?
    private var server: HyphaeServer?

    private func startHost(apiKey: String? = nil, certificate: TestCertificateAuthority.ServerCertificate? = nil) async throws -> Int {
        let folder = try TemporaryFolder()
        for (name, text) in Self.countedPipelines { try folder.write(name, text) }
        self.folder = folder
        var configuration = HostConfiguration()
        configuration.port = 0
        configuration.pipelinesDirectory = folder.url.path
        configuration.eventLoopThreads = 2
        if let apiKey {
            configuration.apiKeys = [APIKey(secret: apiKey)]
            configuration.signatureRequired = true
        }
        configuration.tlsCertificateFile = certificate?.certificateFile
        configuration.tlsKeyFile = certificate?.keyFile
        var logger = Logger(label: "bench-tests")
        logger.logLevel = .error
        let registry = HostStages.registry(adding: BundledPlugins.all)
        let catalog = PipelineCatalog.load(paths: [folder.url.path], loader: PipelineLoader(registry: registry))
        XCTAssertEqual(catalog.pipelines.map(\.name).sorted(), ["counted", "counted_small_queue"], "\(catalog.diagnostics)")
        let server = HyphaeServer(host: HostContext(configuration: configuration, catalog: catalog, registry: registry, logger: logger))
        self.server = server
        return try await server.start()
    }

    override func tearDown() async throws {
        await server?.shutdown()
        server = nil
        folder = nil
    }

    private func plan(port: Int, pipeline: String) -> LoadPlan {
        var plan = LoadPlan()
        plan.port = port
        plan.path = "/ws"
        plan.pipeline = pipeline
        plan.clients = 20
        plan.rampPerSecond = 200
        plan.warmUpSeconds = 0
        plan.durationSeconds = 30
        plan.untilStreamsEnd = true
        plan.threads = 2
        return plan
    }

    func testDeliveredFramesMatchTheHostsFramesSent() async throws {
        let port = try await startHost(apiKey: "bench-key")
        var plan = plan(port: port, pipeline: "counted")
        plan.params = ["count": 100, "rate": 200]
        plan.apiKey = "bench-key"
        let report = try await LoadGenerator(plan: plan).run()

        XCTAssertEqual(report.subscribed, 20, report.table)
        XCTAssertEqual(report.streamEnds, 20, report.table)
        XCTAssertEqual(report.refusals, 0, report.table)
        XCTAssertEqual(report.framesTotal, 20 * 100, report.table)
        XCTAssertEqual(report.hostFramesSent, report.framesTotal, report.table)
        // /proc counts CPU in clock ticks (10 ms), so a short window may read 0, never less.
        let benchCPU = try XCTUnwrap(report.benchCPUSeconds, "the bench reports its own CPU time\n\(report.table)")
        XCTAssertGreaterThanOrEqual(benchCPU, 0)
        XCTAssertTrue(report.table.contains("bench CPU"), report.table)
        XCTAssertEqual(report.gapsTotal, 0, report.table)
        XCTAssertEqual(report.hostFramesDropped, 0, report.table)
        XCTAssertEqual(report.disconnects, 0, report.table)
        XCTAssertGreaterThan(report.framesInWindow, 0)
        XCTAssertGreaterThan(report.latencyMilliseconds(0.5), 0)
    }

    func testOverWSSTheCountsAgreeToo() async throws {
        let authority = try TestCertificateAuthority(name: "Hyphae bench test CA")
        let port = try await startHost(apiKey: "bench-key", certificate: authority.issueServerCertificate())
        var plan = plan(port: port, pipeline: "counted")
        plan.params = ["count": 50, "rate": 200, "payload_bytes": 2000]
        plan.apiKey = "bench-key"
        plan.usesTLS = true
        plan.caFile = authority.certificateFile
        let report = try await LoadGenerator(plan: plan).run()

        XCTAssertEqual(report.subscribed, 20, report.table)
        XCTAssertEqual(report.streamEnds, 20, report.table)
        XCTAssertEqual(report.framesTotal, 20 * 50, report.table)
        // Read over https://: the counters are there only if the bench spoke TLS to /pipelines too.
        XCTAssertEqual(report.hostFramesSent, report.framesTotal, report.table)
        XCTAssertEqual(report.gapsTotal, 0, report.table)
        XCTAssertEqual(report.disconnects, 0, report.table)
        XCTAssertTrue(report.table.contains("wss://127.0.0.1:\(port)"), report.table)
    }

    func testAPlainBenchAgainstATLSHostIsRefusedAndABadCAFileIsNamed() async throws {
        let authority = try TestCertificateAuthority(name: "Hyphae bench test CA")
        let port = try await startHost(certificate: authority.issueServerCertificate())
        var plan = plan(port: port, pipeline: "counted")
        plan.clients = 2
        plan.durationSeconds = 1
        let report = try await LoadGenerator(plan: plan).run()
        XCTAssertEqual(report.subscribed, 0, report.table)
        XCTAssertEqual(report.refusals, 2, "the host answers plain upgrades with 400\n\(report.table)")

        plan.usesTLS = true
        plan.caFile = "/nonexistent/ca.pem"
        XCTAssertThrowsError(try LoadGenerator(plan: plan)) { error in
            XCTAssertTrue("\(error)".contains("cannot read the CA file /nonexistent/ca.pem given to --ca-file"), "\(error)")
        }
    }

    func testGapsMatchTheHostsDroppedFrames() async throws {
        let port = try await startHost()
        var plan = plan(port: port, pipeline: "counted_small_queue")
        // Half the clients stall for 5 s, past the stream's end, while 64 KiB frames (up to
        // 13 MB of them, more than the socket buffers hold) pile up behind a 4-frame queue.
        plan.clients = 8
        plan.params = ["count": 200, "rate": 100, "payload_bytes": 65536]
        plan.slowShare = 0.5
        plan.slowResumeAfterSeconds = 5
        plan.slowReceiveBufferBytes = 4096
        let report = try await LoadGenerator(plan: plan).run()

        XCTAssertEqual(report.subscribed, 8, report.table)
        XCTAssertEqual(report.streamEnds, 8, report.table)
        let dropped = try XCTUnwrap(report.hostFramesDropped, report.table)
        XCTAssertGreaterThan(dropped, 0, "the stalled clients should have lost frames: \(report.table)")
        XCTAssertEqual(report.gapsTotal, dropped, report.table)
        XCTAssertEqual(report.hostFramesSent, report.framesTotal, report.table)
        XCTAssertEqual(report.framesTotal + report.gapsTotal, 8 * 200, report.table)
        XCTAssertGreaterThan(report.gapsOfSlowClientsTotal, 0, report.table)
    }

    /// Runs `clients` bench clients for a second (or `adjust`'s plan) against a ceiling
    /// server with `settings`, and returns what both counted.
    private func runAgainstCeiling(
        _ settings: CeilingServer.Settings, clients: Int = 10, adjust: (inout LoadPlan) -> Void = { _ in }
    ) async throws -> (report: BenchReport, totals: CeilingServer.Totals) {
        let ceiling = CeilingServer(settings: settings)
        let port = try await ceiling.start()
        var plan = LoadPlan()
        plan.port = port
        plan.clients = clients
        plan.warmUpSeconds = 0.2
        plan.durationSeconds = 1
        plan.readHostCounters = false
        adjust(&plan)
        do {
            let report = try await LoadGenerator(plan: plan).run()
            let totals = await ceiling.totals()
            await ceiling.stop()
            return (report, totals)
        } catch {
            await ceiling.stop()
            throw error
        }
    }

    func testTheCeilingServerFeedsTheBench() async throws {
        let (report, _) = try await runAgainstCeiling(CeilingServer.Settings(rate: 100, payloadBytes: 256, threads: 1))
        XCTAssertEqual(report.subscribed, 10, report.table)
        // 10 clients × 100 frames/s × 1 s, give or take a tick at each end.
        XCTAssertGreaterThan(report.framesInWindow, 800, report.table)
        XCTAssertLessThan(report.framesInWindow, 1200, report.table)
        XCTAssertEqual(report.gapsInWindow, 0, report.table)
    }

    /// The ceiling writes each tick's frames to a socket together: every write carries
    /// `framesPerWrite` of them, and the clients still see every sequence once, in order.
    func testTheCeilingServerWritesSeveralFramesPerWriteWithoutGaps() async throws {
        let (report, totals) = try await runAgainstCeiling(CeilingServer.Settings(rate: 200, payloadBytes: 64, framesPerWrite: 4, threads: 1))
        XCTAssertEqual(report.subscribed, 10, report.table)
        XCTAssertGreaterThan(totals.writes, 0)
        XCTAssertEqual(totals.framesWritten, 4 * totals.writes)
        // 10 clients × 200 frames/s × 1 s, give or take a tick (4 frames) at each end.
        XCTAssertGreaterThan(report.framesInWindow, 1600, report.table)
        XCTAssertLessThan(report.framesInWindow, 2400, report.table)
        XCTAssertEqual(report.gapsInWindow, 0, report.table)
    }

    /// With direct writes the ceiling accepts on its own thread and writes each socket
    /// with send(2): the clients still get every frame once, and the kernel took the
    /// writes whole (a loopback socket with room never takes part of 4 small frames).
    func testTheCeilingServerWritingDirectlyFeedsTheBenchWithoutGaps() async throws {
        let (report, totals) = try await runAgainstCeiling(CeilingServer.Settings(rate: 200, payloadBytes: 64, framesPerWrite: 4, directWrites: true, threads: 2))
        XCTAssertEqual(report.subscribed, 10, report.table)
        XCTAssertGreaterThan(totals.directWrites, 0)
        XCTAssertEqual(totals.directWrites, totals.writes, "every write went direct")
        XCTAssertGreaterThan(report.framesInWindow, 1600, report.table)
        XCTAssertLessThan(report.framesInWindow, 2400, report.table)
        XCTAssertEqual(report.gapsInWindow, 0, report.table)
    }

    /// Clients that stop reading fill their sockets, so direct sends come back short or
    /// refused and NIO takes the rest: the byte stream stays whole (no frame cut into or
    /// overtaken), the stalled clients see gaps for the ticks skipped, and read on after.
    func testTheCeilingServerWritingDirectlyKeepsFullSocketsWhole() async throws {
        let settings = CeilingServer.Settings(rate: 400, payloadBytes: 16_384, framesPerWrite: 4, directWrites: true, threads: 1)
        let (report, totals) = try await runAgainstCeiling(settings, clients: 4) { plan in
            plan.durationSeconds = 3
            plan.slowShare = 0.5
            plan.slowResumeAfterSeconds = 1.5
            plan.slowReceiveBufferBytes = 4096
        }
        XCTAssertEqual(report.subscribed, 4, report.table)
        XCTAssertEqual(report.errorMessages, 0, report.table)
        XCTAssertEqual(report.outOfOrder, 0, report.table)
        XCTAssertEqual(report.disconnects, 0, report.table)
        XCTAssertGreaterThan(report.gapsInWindow, 0, "the stalled clients lost ticks: \(report.table)")
        XCTAssertEqual(report.gapsOfReadingClients, 0, report.table)
        XCTAssertLessThan(totals.directWrites, totals.writes, "some writes went through NIO: \(totals)")
        XCTAssertGreaterThan(totals.framesSkipped, 0, "\(totals)")
    }

    func testTheCeilingServerDefaultsToCoalescingOnlyWhenUnpaced() {
        var settings = CeilingServer.Settings()
        settings.rate = 0
        XCTAssertEqual(settings.effectiveFramesPerWrite, 16)
        settings.rate = 10
        XCTAssertEqual(settings.effectiveFramesPerWrite, 1)
        settings.framesPerWrite = 1000
        XCTAssertEqual(settings.effectiveFramesPerWrite, CeilingServer.Settings.framesPerWriteRange.upperBound)
    }

    func testHistogramPercentilesStayWithinTheirPrecision() {
        var histogram = LatencyHistogram()
        for value in 1...10_000 { histogram.record(value) }
        XCTAssertEqual(histogram.totalCount, 10_000)
        XCTAssertEqual(histogram.maximum, 10_000)
        for (fraction, exact) in [(0.5, 5000.0), (0.9, 9000.0), (0.99, 9900.0)] {
            let reported = Double(histogram.value(atFraction: fraction))
            XCTAssertGreaterThanOrEqual(reported, exact)
            XCTAssertLessThanOrEqual(reported, exact * 1.001 + 1, "p\(fraction * 100)")
        }
        XCTAssertEqual(histogram.value(atFraction: 1), 10_000)
        var other = LatencyHistogram()
        other.record(50_000)
        histogram.merge(other)
        XCTAssertEqual(histogram.maximum, 50_000)
        XCTAssertEqual(histogram.totalCount, 10_001)
    }
}
