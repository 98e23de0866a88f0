import HyphaeCore
import HyphaeProtocol
import Synchronization

/// A counter or gauge that any thread may change without a lock.
final class MetricValue: Sendable {
    private let value = Atomic<Int>(0)

    func add(_ amount: Int) {
        value.wrappingAdd(amount, ordering: .relaxed)
    }

    func subtract(_ amount: Int) {
        value.wrappingSubtract(amount, ordering: .relaxed)
    }

    var current: Int { value.load(ordering: .relaxed) }
}

/// A latency histogram with fixed buckets, in seconds.
final class LatencyHistogram: Sendable {
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    private let buckets: [MetricValue] = bounds.map { _ in MetricValue() }
    private let count = MetricValue()
    private let sumMicroseconds = MetricValue()

    func observe(seconds: Double) {
        count.add(1)
        sumMicroseconds.add(Int(max(0, seconds) * 1_000_000))
        if let index = Self.bounds.firstIndex(where: { seconds <= $0 }) {
            buckets[index].add(1)
        }
    }

    func render(name: String, labels: String, into text: inout String) {
        var cumulative = 0
        for (index, bound) in Self.bounds.enumerated() {
            cumulative += buckets[index].current
            text += "\(name)_bucket{\(labels)\(labels.isEmpty ? "" : ",")le=\"\(bound)\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{\(labels)\(labels.isEmpty ? "" : ",")le=\"+Inf\"} \(count.current)\n"
        let braced = labels.isEmpty ? "" : "{\(labels)}"
        text += "\(name)_sum\(braced) \(Double(sumMicroseconds.current) / 1_000_000)\n"
        text += "\(name)_count\(braced) \(count.current)\n"
    }
}

/// One pipeline's counters, shared by its instances and their fan-outs.
final class PipelineMetrics: Sendable {
    let framesEmitted = MetricValue()
    let framesSent = MetricValue()
    let instances = MetricValue()
    let subscribers = MetricValue()
    let queuedFrames = MetricValue()
    let sendLatency = LatencyHistogram()
    /// Dropped frames by backpressure policy.
    let framesDropped: [BackpressurePolicy: MetricValue] = Dictionary(
        uniqueKeysWithValues: BackpressurePolicy.allCases.map { ($0, MetricValue()) })

    func dropped(_ count: Int, policy: BackpressurePolicy) {
        framesDropped[policy]?.add(count)
    }

    var totalDropped: Int {
        framesDropped.values.reduce(0) { $0 + $1.current }
    }
}

/// The host's metrics, served at `/metrics` in the Prometheus text format.
public final class HostMetrics: Sendable {
    let connectionsOpen = MetricValue()
    let connectionsTotal = MetricValue()
    let authFailures = MetricValue()
    let authSuccesses = MetricValue()
    let subscriptionsActive = MetricValue()
    let subscribeFailures = MetricValue()
    let invalidMessages = MetricValue()
    let closesByCode = Mutex<[String: Int]>([:])
    let reloads = Mutex<[String: Int]>([:])
    private let pipelines = Mutex<[String: PipelineMetrics]>([:])
    /// What stages report of the services they depend on (a Redis server).
    public let dependencies = DependencyBoard()
    /// What every subscription queue holds together (`QueuedBytesBudget`).
    let queuedBytes = MetricValue()
    let heapTrims = LatencyHistogram()
    let heapBytesReleased = MetricValue()
    /// Direct socket writes whose rest the kernel did not take at once, finished by NIO.
    let directWriteHandoffs = MetricValue()

    public init() {}

    func pipeline(_ name: String) -> PipelineMetrics {
        pipelines.withLock { table in
            if let existing = table[name] { return existing }
            let created = PipelineMetrics()
            table[name] = created
            return created
        }
    }

    /// Counts a close by its code; a code echoed back to a peer is counted as `peer`, so
    /// that clients cannot add label values.
    func closed(code: CloseCode) {
        let label = CloseCode.sentByServer.contains(code) ? code.description : "peer"
        closesByCode.withLock { $0[label, default: 0] += 1 }
    }

    func reloaded(result: String) {
        reloads.withLock { $0[result, default: 0] += 1 }
    }

    public func render() -> String {
        var text = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples {
                text += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n"
            }
        }
        metric("hyphae_connections", "gauge", "Open WebSocket connections.", [("", connectionsOpen.current)])
        metric("hyphae_connections_total", "counter", "WebSocket connections accepted.", [("", connectionsTotal.current)])
        metric("hyphae_auth_total", "counter", "Auth attempts by result.", [("result=\"success\"", authSuccesses.current), ("result=\"failure\"", authFailures.current)])
        metric("hyphae_subscriptions", "gauge", "Active subscriptions.", [("", subscriptionsActive.current)])
        metric("hyphae_queued_bytes", "gauge", "Bytes waiting in all subscription queues together (limit: max_queued_bytes).", [("", queuedBytes.current)])
        metric("hyphae_subscribe_failures_total", "counter", "Refused subscriptions.", [("", subscribeFailures.current)])
        metric("hyphae_invalid_messages_total", "counter", "Client messages answered with INVALID_MESSAGE or UNKNOWN_MESSAGE_TYPE.", [("", invalidMessages.current)])
        metric("hyphae_direct_write_handoffs_total", "counter", "Direct socket writes (direct_writes) the kernel took only part of; NIO wrote the rest once the socket drained.", [("", directWriteHandoffs.current)])
        metric("hyphae_log_lines_dropped_total", "counter", "Log lines dropped because the log could not keep up.", [("", BackgroundLogWriter.droppedLinesTotal)])
        let closes = closesByCode.withLock { $0 }.sorted { $0.key < $1.key }
        metric("hyphae_connection_closes_total", "counter", "Connections closed by the server, by close code.", closes.map { ("code=\"\($0.key)\"", $0.value) })
        let reloadCounts = reloads.withLock { $0 }.sorted { $0.key < $1.key }
        metric("hyphae_reloads_total", "counter", "Pipeline reloads by result.", reloadCounts.map { ("result=\"\($0.key)\"", $0.value) })

        let table = pipelines.withLock { $0 }.sorted { $0.key < $1.key }
        func perPipeline(_ name: String, _ type: String, _ help: String, _ value: (PipelineMetrics) -> Int) {
            metric(name, type, help, table.map { ("pipeline=\"\(Self.escape($0.key))\"", value($0.value)) })
        }
        perPipeline("hyphae_pipeline_instances", "gauge", "Running pipeline instances.") { $0.instances.current }
        perPipeline("hyphae_pipeline_subscribers", "gauge", "Subscribers per pipeline.") { $0.subscribers.current }
        perPipeline("hyphae_frames_emitted_total", "counter", "Frames pipelines handed to their sinks.") { $0.framesEmitted.current }
        perPipeline("hyphae_frames_sent_total", "counter", "Frames written to subscribers.") { $0.framesSent.current }
        perPipeline("hyphae_queue_depth", "gauge", "Frames waiting in subscription queues.") { $0.queuedFrames.current }
        text += "# HELP hyphae_frames_dropped_total Frames dropped by backpressure policies.\n# TYPE hyphae_frames_dropped_total counter\n"
        for (name, metrics) in table {
            for policy in BackpressurePolicy.allCases {
                let count = metrics.framesDropped[policy]?.current ?? 0
                text += "hyphae_frames_dropped_total{pipeline=\"\(Self.escape(name))\",policy=\"\(policy.rawValue)\"} \(count)\n"
            }
        }
        text += "# HELP hyphae_send_latency_seconds Time from a frame's production to its write to subscriber sockets.\n# TYPE hyphae_send_latency_seconds histogram\n"
        for (name, metrics) in table {
            metrics.sendLatency.render(name: "hyphae_send_latency_seconds", labels: "pipeline=\"\(Self.escape(name))\"", into: &text)
        }
        text += "# HELP hyphae_heap_trim_seconds Time each hand-back of free heap pages to the kernel took (heap_trim_interval).\n# TYPE hyphae_heap_trim_seconds histogram\n"
        heapTrims.render(name: "hyphae_heap_trim_seconds", labels: "", into: &text)
        metric("hyphae_heap_released_bytes_total", "counter", "Resident bytes handed back to the kernel by heap trims.", [("", heapBytesReleased.current)])
        renderDependencies(into: &text)
        return text
    }

    private func renderDependencies(into text: inout String) {
        let entries = dependencies.snapshot()
        guard !entries.isEmpty else { return }
        func labels(_ key: DependencyBoard.Key) -> String {
            "pipeline=\"\(Self.escape(key.pipeline))\",dependency=\"\(Self.escape(key.dependency))\""
        }
        text += "# HELP hyphae_dependency_up Whether the running stages that use a service reach it (1), or some do not (0).\n# TYPE hyphae_dependency_up gauge\n"
        for (key, entry) in entries where entry.watchers > 0 {
            text += "hyphae_dependency_up{\(labels(key))} \(entry.isDown ? 0 : 1)\n"
        }
        text += "# HELP hyphae_dependency_events_total What happened to a service stages depend on, by event (reconnects, frames missed, frames dropped).\n# TYPE hyphae_dependency_events_total counter\n"
        for (key, entry) in entries {
            for (event, count) in entry.counts.sorted(by: { $0.key < $1.key }) {
                text += "hyphae_dependency_events_total{\(labels(key)),event=\"\(Self.escape(event))\"} \(count)\n"
            }
        }
    }

    private static func escape(_ label: String) -> String {
        label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
