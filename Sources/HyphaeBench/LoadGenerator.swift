import Foundation
import HyphaeCore
import HyphaeProtocol
import NIOCore
import NIOPosix
import Synchronization

/// What `hyphae bench run` does: how many clients, what they subscribe to, for how long.
public struct LoadPlan: Sendable {
    public enum StreamIDMode: String, Sendable, CaseIterable {
        /// Every client subscribes under the same id (one message build per loop per frame on the host).
        case shared
        /// Each client has its own id.
        case unique
    }

    /// What the clients speak once the WebSocket is open.
    public enum Wire: String, Sendable {
        /// Hyphae's protocol: init, auth, subscribe, pongs to heartbeats.
        case hyphae
        /// Nothing: every text frame is data with `sequence` and `timestamp` (`RawTarget`).
        case raw
    }

    public var wire = Wire.hyphae
    public var host = "127.0.0.1"
    public var port = 8080
    public var path = "/ws"
    public var pipeline = "ticker"
    public var params: JSONObject = [:]
    /// Params whose value is their given value (0 when not given) plus the client's index.
    public var paramsPerClient: [String] = []
    public var clients = 100
    /// New connections per second.
    public var rampPerSecond = 1000.0
    public var warmUpSeconds = 2.0
    public var durationSeconds = 10.0
    public var streamIDMode = StreamIDMode.shared
    /// The share (0...1) of clients that stop reading once subscribed.
    public var slowShare = 0.0
    public var slowResumeAfterSeconds: Double?
    public var apiKey: String?
    public var signAuth = true
    public var threads = 1
    /// Ends the run once every subscription has received `stream_end` (finite pipelines).
    public var untilStreamsEnd = false
    /// The server's processes (a host, or nginx's master and worker): their CPU time
    /// and resident memory are summed.
    public var hostPIDs: [Int32] = []
    public var hostPID: Int32? {
        get { hostPIDs.first }
        set { hostPIDs = newValue.map { [$0] } ?? [] }
    }
    /// Source addresses 127.0.0.1 ... 127.0.0.<count> are used in turn.
    public var sourceAddressCount = 250
    /// Receive buffer of a slow consumer's socket, bytes (small, so its backpressure shows soon).
    public var slowReceiveBufferBytes = 16_384
    /// Reads the pipeline's counters from the host's `GET /pipelines` before and after.
    public var readHostCounters = true
    /// Connects with TLS (wss://, and https:// for the counters).
    public var usesTLS = false
    /// With TLS: trust only the certificates in this PEM file; nil: the system's CAs.
    public var caFile: String?

    public init() {}

    /// Points the plan at a raw server (`RawTarget`): no protocol, no host counters.
    public mutating func target(raw: RawTarget) {
        wire = .raw
        host = raw.host
        port = raw.port
        path = raw.path
        usesTLS = raw.usesTLS
        readHostCounters = false
    }

    public func validate() throws(BenchError) {
        guard clients >= 1 else { throw BenchError("--clients must be at least 1") }
        guard rampPerSecond > 0 else { throw BenchError("--ramp must be a positive number of connections per second") }
        guard durationSeconds > 0, warmUpSeconds >= 0 else { throw BenchError("--duration must be positive and --warm-up not negative") }
        guard (0...1).contains(slowShare) else { throw BenchError("--slow-share is a fraction from 0 to 1, e.g. 0.1") }
        guard (1...64).contains(threads) else { throw BenchError("--threads takes 1 to 64") }
        guard (1...250).contains(sourceAddressCount) else { throw BenchError("--source-addresses takes 1 to 250") }
        guard usesTLS || caFile == nil else { throw BenchError("--ca-file is for a TLS host: add --tls") }
        guard hostPIDs.allSatisfy({ $0 > 0 }) else { throw BenchError("--host-pid takes process ids above 0") }
        if wire == .raw {
            guard apiKey == nil, params.isEmpty, paramsPerClient.isEmpty, !untilStreamsEnd, !readHostCounters else {
                throw BenchError("a raw server is sent nothing: --raw does not go with --api-key, --param, --param-per-client, --until-streams-end or the host's counters")
            }
        }
    }

    func isSlow(_ index: Int) -> Bool {
        // Spread evenly: client i is slow when the running count of slow clients steps up at i.
        let before = Int((Double(index) * slowShare).rounded(.down))
        let after = Int((Double(index + 1) * slowShare).rounded(.down))
        return after > before
    }
}

public struct BenchError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Opens the clients, runs the measured window, and collects what every loop saw.
public final class LoadGenerator: Sendable {
    private let plan: LoadPlan
    private let group: MultiThreadedEventLoopGroup
    private let tallies: [NIOLoopBoundBox<LoopTally>]
    private let connectFailures = Atomic<Int>(0)
    private let lastAuthTimestamp = Atomic<Int>(0)
    private let progress: @Sendable (String) -> Void
    /// Nil for a plain host, whose clients then have no TLS handler at all.
    private let tls: BenchTLS?

    /// Throws when the plan asks for TLS and the CA file cannot be used.
    public init(plan: LoadPlan, progress: @escaping @Sendable (String) -> Void = { _ in }) throws(BenchError) {
        self.plan = plan
        self.progress = progress
        tls = plan.usesTLS ? try BenchTLS(host: plan.host, caFile: plan.caFile) : nil
        group = MultiThreadedEventLoopGroup(numberOfThreads: plan.threads)
        tallies = group.makeIterator().map { loop in
            // Created off the loop; only ever touched on it from here on.
            NIOLoopBoundBox.makeBoxSendingValue(LoopTally(), eventLoop: loop)
        }
    }

    /// Runs the plan once; the generator's event loops are shut down when it returns.
    public func run() async throws -> BenchReport {
        do {
            let report = try await measure()
            try? await group.shutdownGracefully()
            return report
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func measure() async throws -> BenchReport {
        try plan.validate()
        let probe = plan.hostPIDs.isEmpty ? nil : ProcessGroupProbe(pids: plan.hostPIDs)
        let memoryBefore = probe?.memory()
        let countersBefore = plan.readHostCounters
            ? await HostCounters.fetch(host: plan.host, port: plan.port, pipeline: plan.pipeline, group: group, tls: tls) : nil
        let sampler = MemorySampler(probe: probe)
        let sampling = Task { await sampler.run() }
        defer { sampling.cancel() }

        let startedAt = ContinuousClock.now
        try await openConnections()
        let connectSeconds = (ContinuousClock.now - startedAt).seconds
        progress("\(await totals().whole.subscribed) of \(plan.clients) subscribed in \(String(format: "%.1f", connectSeconds)) s")

        try await Task.sleep(for: .seconds(plan.warmUpSeconds))
        await setMeasuring(true)
        let cpuBefore = probe?.cpuSplit()
        // The bench's own CPU, to see whether the load generator, not the host, set the pace.
        let ownProbe = HostProcessProbe(pid: getpid())
        let ownCPUBefore = ownProbe.cpuSeconds()
        let windowStart = ContinuousClock.now
        if plan.untilStreamsEnd {
            try await waitForStreamsToEnd(deadline: windowStart + .seconds(plan.durationSeconds))
        } else {
            try await Task.sleep(for: .seconds(plan.durationSeconds))
        }
        await setMeasuring(false)
        let windowSeconds = (ContinuousClock.now - windowStart).seconds
        let cpuAfter = probe?.cpuSplit()
        let ownCPUAfter = ownProbe.cpuSeconds()
        let memoryAfter = probe?.memory()
        let totalsAtEnd = await totals()
        // Let frames already on their way arrive before the host's counters are read.
        if plan.untilStreamsEnd { try await Task.sleep(for: .milliseconds(200)) }
        let countersAfter = plan.readHostCounters
            ? await HostCounters.fetch(host: plan.host, port: plan.port, pipeline: plan.pipeline, group: group, tls: tls) : nil
        let totalsForCounters = plan.untilStreamsEnd ? await totals() : totalsAtEnd
        await closeAll()
        sampling.cancel()

        var report = BenchReport(plan: plan)
        report.connectPhaseSeconds = connectSeconds
        report.windowSeconds = windowSeconds
        report.window = totalsAtEnd.window
        report.whole = totalsForCounters.whole
        report.activeAtEnd = totalsAtEnd.activeConnections
        report.connectFailures = connectFailures.load(ordering: .relaxed)
        if let cpuBefore, let cpuAfter {
            report.hostCPUUserSeconds = cpuAfter.user - cpuBefore.user
            report.hostCPUSystemSeconds = cpuAfter.system - cpuBefore.system
        }
        if let ownCPUBefore, let ownCPUAfter { report.benchCPUSeconds = ownCPUAfter - ownCPUBefore }
        report.hostRSSBeforeKiB = memoryBefore?.residentKiB
        report.hostRSSAfterKiB = memoryAfter?.residentKiB
        report.hostRSSPeakKiB = max(sampler.peakKiB, memoryAfter?.peakKiB ?? 0)
        if let countersBefore, let countersAfter {
            report.hostFramesSent = countersAfter.framesSent - countersBefore.framesSent
            report.hostFramesDropped = countersAfter.framesDropped - countersBefore.framesDropped
        }
        return report
    }

    // MARK: Connections

    private func openConnections() async throws {
        let interval = 1 / plan.rampPerSecond
        let start = ContinuousClock.now
        var index = 0
        while index < plan.clients {
            // Open every connection that is due by now, then sleep a little.
            let due = min(plan.clients, Int((ContinuousClock.now - start).seconds / interval) + 1)
            while index < due {
                connect(index: index)
                index += 1
            }
            if index < plan.clients { try await Task.sleep(for: .milliseconds(5)) }
        }
        // Wait until each client has subscribed, failed or gone; give up after a while.
        let deadline = ContinuousClock.now + .seconds(30 + Double(plan.clients) / plan.rampPerSecond)
        while ContinuousClock.now < deadline {
            let snapshot = await totals()
            let settled = snapshot.whole.subscribed + snapshot.whole.refusals + snapshot.whole.disconnects
                + connectFailures.load(ordering: .relaxed)
            if settled >= plan.clients { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        progress("not every client subscribed before the connect deadline")
    }

    /// Opens client `index` on loop `index % threads`, whose tally its handler adds to.
    private func connect(index: Int) {
        let clientPlan = makeClientPlan(index: index)
        let tally = tallies[index % tallies.count]
        let tls = self.tls
        var bootstrap = ClientBootstrap(group: tally.eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(20))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // TLS sits below the raw-byte handler, which then reads plaintext as before.
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeHandler()) }
                    try channel.pipeline.syncOperations.addHandler(BenchConnection(plan: clientPlan, tally: tally.value))
                }
            }
        if clientPlan.stopsReading {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(plan.slowReceiveBufferBytes))
        }
        if let source = try? SocketAddress(ipAddress: "127.0.0.\(1 + index % plan.sourceAddressCount)", port: 0) {
            bootstrap = bootstrap.bind(to: source)
        }
        bootstrap.connect(host: plan.host, port: plan.port).whenFailure { [weak self] _ in
            self?.connectFailures.wrappingAdd(1, ordering: .relaxed)
        }
    }

    private func makeClientPlan(index: Int) -> ClientPlan {
        let streamID = plan.streamIDMode == .shared ? "bench" : "bench-\(index)"
        var params = plan.params
        for name in plan.paramsPerClient {
            let base = params[name]?.numberValue.map { Int($0) } ?? 0
            params[name] = .int(base + index)
        }
        let subscribe = ClientMessage.subscribe(streamID: streamID, pipeline: plan.pipeline, params: params).jsonText
        let initMessage = ClientMessage.initialize(clientInfo: "hyphae bench").jsonText
        var authMessage: (@Sendable () -> [UInt8])?
        if let apiKey = plan.apiKey {
            let signs = plan.signAuth
            authMessage = { [self] in
                let timestamp = uniqueAuthTimestamp()
                return Array(ClientMessage.auth(apiKey: apiKey, timestamp: Int64(timestamp), signed: signs).jsonText.utf8)
            }
        }
        let slow = plan.isSlow(index)
        return ClientPlan(
            index: index,
            upgradeRequest: WebSocketWire.upgradeRequest(path: plan.path, host: plan.host, port: plan.port),
            speaksProtocol: plan.wire == .hyphae,
            initMessage: Array(initMessage.utf8), authMessage: authMessage, subscribeMessage: Array(subscribe.utf8),
            stopsReading: slow, resumesReadingAfter: slow ? plan.slowResumeAfterSeconds : nil)
    }

    /// The host accepts a signed auth message once, so no two clients may sign the
    /// same timestamp: each takes the next millisecond not yet used.
    private func uniqueAuthTimestamp() -> Int {
        let now = Int(WallClock.nowMilliseconds())
        while true {
            let last = lastAuthTimestamp.load(ordering: .relaxed)
            let next = max(now, last + 1)
            if lastAuthTimestamp.compareExchange(expected: last, desired: next, ordering: .relaxed).exchanged { return next }
        }
    }

    // MARK: The loops' tallies

    private func onEveryLoop<Result: Sendable>(_ body: @escaping @Sendable (LoopTally) -> Result) async -> [Result] {
        var results: [Result] = []
        for tally in tallies {
            if let result = try? await tally.eventLoop.submit({ body(tally.value) }).get() {
                results.append(result)
            }
        }
        return results
    }

    private func setMeasuring(_ measuring: Bool) async {
        _ = await onEveryLoop { $0.isMeasuring = measuring }
    }

    private func totals() async -> LoopSnapshot {
        let snapshots = await onEveryLoop { $0.snapshot() }
        var merged = LoopSnapshot(window: .init(), whole: .init(), activeConnections: 0)
        for snapshot in snapshots {
            merged.window.merge(snapshot.window)
            merged.whole.merge(snapshot.whole)
            merged.activeConnections += snapshot.activeConnections
        }
        return merged
    }

    private func waitForStreamsToEnd(deadline: ContinuousClock.Instant) async throws {
        while ContinuousClock.now < deadline {
            let ended = await onEveryLoop { tally in tally.connections.allSatisfy(\.hasEnded) }
            if ended.allSatisfy({ $0 }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func closeAll() async {
        _ = await onEveryLoop { tally in
            for connection in tally.connections { connection.close() }
        }
        try? await Task.sleep(for: .milliseconds(100))
    }
}

/// Polls the host's resident memory while the run lasts, keeping the highest.
private final class MemorySampler: Sendable {
    private let probe: ProcessGroupProbe?
    private let peak = Atomic<Int>(0)

    init(probe: ProcessGroupProbe?) {
        self.probe = probe
    }

    var peakKiB: Int { peak.load(ordering: .relaxed) }

    func run() async {
        guard let probe else { return }
        while !Task.isCancelled {
            if let memory = probe.memory() {
                peak.max(memory.residentKiB, ordering: .relaxed)
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
