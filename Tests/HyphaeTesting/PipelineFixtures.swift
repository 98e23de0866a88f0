/// Pipeline files that tests serve: the host's live and seam suites and the bench's.
/// Every one uses the `ticker` source, the lightest there is, so that suites stay quick.
public enum PipelineFixtures {
    /// Endless, shared per set of params: `/ws/ticker`.
    public static let ticker = """
        name: ticker
        description: an endless counter
        params:
          rate:          { type: float, default: 50, min: 0.1, max: 10000 }
          payload_bytes: { type: int,   default: 0,  min: 0,   max: 65536 }
          label:         { type: string, default: plain }
        source:
          type: ticker
          rate: ${rate}
          payload_bytes: ${payload_bytes}
        sinks:
          - type: websocket
            path: /ws/ticker
        """

    /// Finite (a run per subscriber by default): `/ws/finite`.
    public static let finite = """
        name: finite
        description: a counter that stops
        params:
          count: { type: int,   default: 5,   min: 1, max: 100000 }
          rate:  { type: float, default: 200, min: 0.1, max: 10000 }
        source:
          type: ticker
          rate: ${rate}
          count: ${count}
        sinks:
          - type: websocket
            path: /ws/finite
        """

    /// At most one running instance: `/ws/limited`.
    public static let limited = """
        name: limited
        description: one instance at a time
        max_instances: 1
        params:
          rate: { type: float, default: 20, min: 0.1, max: 1000 }
        source:
          type: ticker
          rate: ${rate}
        sinks:
          - type: websocket
            path: /ws/limited
        """

    /// The three above, by file name without `.yaml`.
    public static let standard: [String: String] = ["ticker": ticker, "finite": finite, "limited": limited]

    /// A finite ticker whose length, pace and frame size are params (`count`, `rate`,
    /// `payload_bytes`; rate 0 runs as fast as the loops take frames), served at
    /// `/ws/<name>` under `policy` with a queue of `queueSize` frames. With `roomyTwin`,
    /// `/ws/<name>_roomy` serves the same instance with a queue big enough for any run,
    /// for a client that must see every frame.
    public static func countedTicker(
        name: String,
        description: String? = nil,
        sharing: String? = nil,
        policy: String = "drop_oldest",
        queueSize: Int,
        defaults: (count: Int, rate: Int, payloadBytes: Int) = (count: 100, rate: 200, payloadBytes: 0),
        roomyTwin: Bool = false
    ) -> String {
        var lines = ["name: \(name)"]
        if let description { lines.append("description: \(description)") }
        if let sharing { lines.append("sharing: \(sharing)") }
        lines += [
            "params:",
            "  count:         { type: int,   default: \(defaults.count), min: 1, max: 100000 }",
            "  rate:          { type: float, default: \(defaults.rate), min: 0, max: 100000 }",
            "  payload_bytes: { type: int,   default: \(defaults.payloadBytes), min: 0, max: 1000000 }",
            "source:",
            "  type: ticker",
            "  rate: ${rate}",
            "  count: ${count}",
            "  payload_bytes: ${payload_bytes}",
            "sinks:",
            "  - type: websocket",
            "    path: /ws/\(name)",
            "    backpressure: \(policy)",
            "    queue_size: \(queueSize)",
        ]
        if roomyTwin {
            lines += [
                "  - type: websocket",
                "    path: /ws/\(name)_roomy",
                "    backpressure: drop_oldest",
                "    queue_size: 1000000",
            ]
        }
        return lines.joined(separator: "\n")
    }

    /// A finite run of big frames (1000 of 20 kB at 1000 a second by default) for a slow
    /// consumer under `policy`: `/ws/<name>` has the small queue, `/ws/<name>_roomy` a roomy one.
    public static func backpressure(name: String, policy: String, queueSize: Int, sharing: String) -> String {
        countedTicker(
            name: name, description: "big frames for a slow consumer under \(policy)", sharing: sharing,
            policy: policy, queueSize: queueSize, defaults: (count: 1000, rate: 1000, payloadBytes: 20000), roomyTwin: true
        )
    }
}
