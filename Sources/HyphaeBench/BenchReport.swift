import Foundation
import HyphaeCore

/// What a run measured, printed as a table for people and as one JSON line for scripts.
public struct BenchReport: Sendable {
    public var plan: LoadPlan
    public var label: String?
    public var connectPhaseSeconds = 0.0
    public var windowSeconds = 0.0
    var window = LoopTally.WindowCounts()
    var whole = LoopTally.WholeRunCounts()
    public var activeAtEnd = 0
    public var connectFailures = 0
    public var hostCPUUserSeconds: Double?
    public var hostCPUSystemSeconds: Double?
    /// The load generator's own CPU time in the window (user plus system), seconds.
    public var benchCPUSeconds: Double?
    public var hostRSSBeforeKiB: Int?
    public var hostRSSAfterKiB: Int?
    public var hostRSSPeakKiB: Int?
    /// The host's own counters for the pipeline, over the run.
    public var hostFramesSent: Int?
    public var hostFramesDropped: Int?

    init(plan: LoadPlan) {
        self.plan = plan
    }

    // MARK: Figures

    public var subscribed: Int { whole.subscribed }
    public var connected: Int { whole.connected }
    public var framesInWindow: Int { window.frames }
    public var framesPerSecond: Double { windowSeconds > 0 ? Double(window.frames) / windowSeconds : 0 }
    public var gapsInWindow: Int { window.gaps }
    /// Gaps seen by the clients that kept reading.
    public var gapsOfReadingClients: Int { window.gaps - window.gapsOfSlowClients }
    /// Every data frame received over the whole run, warm-up included.
    public var framesTotal: Int { whole.frames }
    public var gapsTotal: Int { whole.gaps }
    public var gapsOfSlowClientsTotal: Int { whole.gapsOfSlowClients }
    public var streamEnds: Int { whole.streamEnds }
    public var disconnects: Int { whole.disconnects }
    public var errorMessages: Int { whole.errorMessages }
    public var outOfOrder: Int { whole.outOfOrder }
    public var refusals: Int { whole.refusals }
    public var slowClients: Int { (0..<plan.clients).count(where: plan.isSlow) }

    public func latencyMilliseconds(_ fraction: Double) -> Double {
        Double(window.latencyMicroseconds.value(atFraction: fraction)) / 1000
    }

    public var latencyMaximumMilliseconds: Double { Double(window.latencyMicroseconds.maximum) / 1000 }

    public var hostCPUSeconds: Double? {
        guard let user = hostCPUUserSeconds, let system = hostCPUSystemSeconds else { return nil }
        return user + system
    }

    /// Host CPU per frame delivered in the window, in microseconds.
    public var hostCPUMicrosecondsPerFrame: Double? {
        guard let cpu = hostCPUSeconds, window.frames > 0 else { return nil }
        return cpu / Double(window.frames) * 1e6
    }

    /// (RSS at the end − RSS before connecting) / connections, in bytes.
    public var hostRSSBytesPerConnection: Double? {
        guard let before = hostRSSBeforeKiB, let after = hostRSSAfterKiB, connected > 0 else { return nil }
        return Double(after - before) * 1024 / Double(connected)
    }

    // MARK: Output

    public var table: String {
        var lines: [String] = []
        func row(_ name: String, _ value: String) {
            lines.append(name.padding(toLength: 30, withPad: " ", startingAt: 0) + value)
        }
        func milliseconds(_ value: Double) -> String { String(format: "%.2f ms", value) }
        if let label { lines.append("scenario: \(label)") }
        let address = "\(plan.usesTLS ? "wss" : "ws")://\(plan.host):\(plan.port)\(plan.path)"
        if plan.wire == .raw {
            row("target", "\(address) (raw: no protocol, text frames with sequence and timestamp)")
        } else {
            row("target", "\(address) pipeline \(plan.pipeline) \(plan.params.isEmpty ? "" : JSONValue.object(plan.params).jsonText)")
        }
        row("clients", "\(plan.clients) (slow: \(slowClients)), stream ids \(plan.streamIDMode.rawValue), \(plan.threads) bench thread\(plan.threads == 1 ? "" : "s")")
        row("connected / subscribed", "\(connected) / \(subscribed) in \(String(format: "%.1f", connectPhaseSeconds)) s; failed connects \(connectFailures), refusals \(refusals)")
        row("connect time p50/p99/max", [0.5, 0.99].map { milliseconds(Double(whole.connectMicroseconds.value(atFraction: $0)) / 1000) }.joined(separator: " / ") + " / " + milliseconds(Double(whole.connectMicroseconds.maximum) / 1000))
        row("subscribe time p50/p99/max", [0.5, 0.99].map { milliseconds(Double(whole.subscribeMicroseconds.value(atFraction: $0)) / 1000) }.joined(separator: " / ") + " / " + milliseconds(Double(whole.subscribeMicroseconds.maximum) / 1000))
        row("measured window", String(format: "%.2f s (after %.1f s warm-up)", windowSeconds, plan.warmUpSeconds))
        row("frames delivered", "\(window.frames) (\(String(format: "%.0f", framesPerSecond)) frames/s, \(String(format: "%.1f", Double(window.bytes) / windowSecondsOrOne / 1e6)) MB/s)")
        row("latency p50/p90/p99", [0.5, 0.9, 0.99].map { milliseconds(latencyMilliseconds($0)) }.joined(separator: " / "))
        row("latency p99.9/max", milliseconds(latencyMilliseconds(0.999)) + " / " + milliseconds(latencyMaximumMilliseconds))
        row("gaps (dropped frames)", "\(gapsOfReadingClients) for reading clients, \(window.gapsOfSlowClients) for slow ones (whole run: \(whole.gaps))")
        row("errors / disconnects", "\(whole.errorMessages) \(plan.wire == .raw ? "malformed frames" : "error messages"), \(whole.disconnects) disconnects, \(whole.outOfOrder) out of order")
        if !whole.closeCodes.isEmpty {
            row("close codes", whole.closeCodes.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", "))
        }
        row("stream ends", "\(whole.streamEnds)")
        if let cpu = hostCPUSeconds, let user = hostCPUUserSeconds, let system = hostCPUSystemSeconds {
            row("host CPU", String(format: "%.2f s in the window (%.0f%% of one core; user %.2f, system %.2f)", cpu, cpu / windowSecondsOrOne * 100, user, system))
        }
        if let perFrame = hostCPUMicrosecondsPerFrame { row("host CPU per frame", String(format: "%.2f µs", perFrame)) }
        if let bench = benchCPUSeconds {
            let threads = plan.threads == 1 ? "1 thread" : "\(plan.threads) threads"
            row("bench CPU", String(format: "%.2f s in the window (%.0f%% of one core", bench, bench / windowSecondsOrOne * 100) + ", \(threads))")
        }
        if let before = hostRSSBeforeKiB, let after = hostRSSAfterKiB {
            row("host RSS", "\(before) KiB before, \(after) KiB at the end, peak \(hostRSSPeakKiB ?? after) KiB")
        }
        if let perConnection = hostRSSBytesPerConnection { row("host RSS per connection", String(format: "%.2f KiB", perConnection / 1024)) }
        if let sent = hostFramesSent, let dropped = hostFramesDropped {
            row("host counters (run)", "frames_sent \(sent), frames_dropped \(dropped); bench received \(whole.frames), gaps \(whole.gaps)")
        }
        return lines.joined(separator: "\n")
    }

    private var windowSecondsOrOne: Double { windowSeconds > 0 ? windowSeconds : 1 }

    public var json: JSONValue {
        func number(_ value: Double?) -> JSONValue {
            guard let value, value.isFinite else { return .null }
            return .double((value * 1000).rounded() / 1000)
        }
        func integer(_ value: Int?) -> JSONValue { value.map(JSONValue.int) ?? .null }
        var object: JSONObject = [
            "bench": "run",
            "label": label.map(JSONValue.string) ?? .null,
            "pipeline": plan.wire == .raw ? .null : .string(plan.pipeline),
            "wire": .string(plan.wire.rawValue),
            "params": .object(plan.params),
            "clients": .int(plan.clients),
            "slow_clients": .int(slowClients),
            "stream_ids": .string(plan.streamIDMode.rawValue),
            "threads": .int(plan.threads),
            "tls": .bool(plan.usesTLS),
            "connected": .int(connected),
            "subscribed": .int(subscribed),
            "connect_failures": .int(connectFailures),
            "refusals": .int(refusals),
            "connect_seconds": number(connectPhaseSeconds),
            "connect_ms_p50": number(Double(whole.connectMicroseconds.value(atFraction: 0.5)) / 1000),
            "connect_ms_p99": number(Double(whole.connectMicroseconds.value(atFraction: 0.99)) / 1000),
            "subscribe_ms_p50": number(Double(whole.subscribeMicroseconds.value(atFraction: 0.5)) / 1000),
            "subscribe_ms_p99": number(Double(whole.subscribeMicroseconds.value(atFraction: 0.99)) / 1000),
            "window_seconds": number(windowSeconds),
            "frames": .int(window.frames),
            "frames_per_second": number(framesPerSecond),
            "latency_ms_p50": number(latencyMilliseconds(0.5)),
            "latency_ms_p90": number(latencyMilliseconds(0.9)),
            "latency_ms_p99": number(latencyMilliseconds(0.99)),
            "latency_ms_p999": number(latencyMilliseconds(0.999)),
            "latency_ms_max": number(latencyMaximumMilliseconds),
            "gaps": .int(gapsOfReadingClients),
            "gaps_slow_clients": .int(window.gapsOfSlowClients),
            "frames_total": .int(whole.frames),
            "gaps_total": .int(whole.gaps),
            "out_of_order": .int(whole.outOfOrder),
            "errors": .int(whole.errorMessages),
            "disconnects": .int(whole.disconnects),
            "stream_ends": .int(whole.streamEnds),
            "active_at_end": .int(activeAtEnd),
        ]
        object["host_cpu_seconds"] = number(hostCPUSeconds)
        object["host_cpu_user_seconds"] = number(hostCPUUserSeconds)
        object["host_cpu_system_seconds"] = number(hostCPUSystemSeconds)
        object["host_cpu_us_per_frame"] = number(hostCPUMicrosecondsPerFrame)
        object["bench_cpu_seconds"] = number(benchCPUSeconds)
        object["host_rss_before_kib"] = integer(hostRSSBeforeKiB)
        object["host_rss_after_kib"] = integer(hostRSSAfterKiB)
        object["host_rss_peak_kib"] = integer(hostRSSPeakKiB)
        object["host_rss_bytes_per_connection"] = number(hostRSSBytesPerConnection)
        object["host_frames_sent"] = integer(hostFramesSent)
        object["host_frames_dropped"] = integer(hostFramesDropped)
        return .object(object)
    }
}
