import HyphaeConsole
import HyphaeCore
import HyphaeProtocol

/// The `websocket` sink: the path subscribers connect to, and each subscription's queue.
public struct WebSocketSinkConfiguration: EndpointConfiguration, Equatable {
    /// Paths the host serves itself, which no pipeline may take: its endpoints, and the
    /// web console's files.
    public static let reservedPaths: Set<String> = Set(["/ws", "/ws/heartbeat", "/health", "/ready", "/metrics", "/pipelines"]).union(ConsoleFiles.paths)

    public var path: String
    public var backpressure: BackpressurePolicy
    public var queueSize: Int
    /// The bytes a subscription's queue may hold before its policy acts.
    public var maxQueueBytes: Int
    /// How long a frame may wait on its event loop for later ones to leave with it.
    public var batchWindowMilliseconds: Int
    /// The recent frames a shared instance keeps for subscribers that resume (`history`).
    public var historyFrames: Int
    public var historySeconds: Double
    public var historyMaxBytes: Int

    /// `history` when it is left out: about a minute of a 10 Hz stream, within 4 MiB.
    public static let defaultHistoryFrames = 1000
    public static let defaultHistorySeconds = 60.0
    public static let defaultHistoryMaxBytes = 4 << 20

    public var endpointPath: String { path }
    public var requiresOwnInstance: Bool { backpressure == .block }

    public init(reading config: inout ConfigReader) {
        path = config.string("path", default: nil, summary: "the URL path subscribers connect to, e.g. /ws/my_stream")
        backpressure = config.choice("backpressure", default: .dropOldest, summary: "what a full subscription queue does with a new frame")
        queueSize = config.int("queue_size", default: 1000, min: 1, max: 1_000_000, summary: "frames a subscription may hold before its backpressure policy acts")
        maxQueueBytes = config.int("max_queue_bytes", default: 16 << 20, min: 65_536, max: 1 << 34, summary: "bytes a subscription's queue may hold before its backpressure policy acts, whatever queue_size allows")
        batchWindowMilliseconds = config.int(
            "batch_window_ms", default: 0, min: 0, max: 1000,
            summary: "how long a frame may wait for later ones, so that they reach each socket in one write; 0 sends at once (frames that pile up while the host is busy are batched anyway)")
        var frames = Self.defaultHistoryFrames
        var seconds = Self.defaultHistorySeconds
        var maxBytes = Self.defaultHistoryMaxBytes
        config.nested("history", summary: "the recent frames a shared instance keeps so that a reconnecting subscriber resumes without a gap (PROTOCOL.md, Resume); frames: 0 keeps none") { history in
            frames = history.int("frames", default: frames, min: 0, max: 100_000, summary: "frames kept at most")
            seconds = history.double("seconds", default: seconds, min: 0, max: 3600, summary: "seconds a frame is kept at most")
            maxBytes = history.int("max_bytes", default: maxBytes, min: 0, max: 256 << 20, summary: "bytes kept at most (each frame counts its encoding), whatever frames allows")
        }
        historyFrames = frames
        historySeconds = seconds
        historyMaxBytes = maxBytes
        guard !config.isDescribing else { return }
        if !path.hasPrefix("/") || path.contains(where: { $0 == " " || $0 == "?" || $0 == "#" }) {
            config.problem("path", "expected a URL path starting with '/' and without spaces, '?' or '#', found '\(path)'")
        } else if Self.reservedPaths.contains(path) || path.hasPrefix("/admin") {
            config.problem("path", "'\(path)' is served by the host itself; choose another path, e.g. /ws/<pipeline name>")
        }
    }
}
