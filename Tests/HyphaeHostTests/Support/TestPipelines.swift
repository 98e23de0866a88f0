/// Pipeline files the end-to-end tests serve. Every one uses the `ticker` source,
/// kept small and fast so that the suite stays quick.
enum TestPipelines {
    /// Endless, shared per set of params: `/ws/ticker`.
    static let ticker = """
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
    static let finite = """
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
    static let limited = """
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

    static let standard: [String: String] = ["ticker": ticker, "finite": finite, "limited": limited]

    /// A finite run of big frames with two WebSocket paths on the same instance:
    /// `/ws/<name>` has a small queue under `policy`; `/ws/<name>_roomy` has a queue
    /// big enough for the whole run, for a client that must see every frame.
    static func backpressure(name: String, policy: String, queueSize: Int, sharing: String) -> String {
        """
        name: \(name)
        description: big frames for a slow consumer under \(policy)
        sharing: \(sharing)
        params:
          count:         { type: int,   default: 1000,  min: 1, max: 100000 }
          rate:          { type: float, default: 1000,  min: 0, max: 100000 }
          payload_bytes: { type: int,   default: 20000, min: 0, max: 1000000 }
        source:
          type: ticker
          rate: ${rate}
          count: ${count}
          payload_bytes: ${payload_bytes}
        sinks:
          - type: websocket
            path: /ws/\(name)
            backpressure: \(policy)
            queue_size: \(queueSize)
          - type: websocket
            path: /ws/\(name)_roomy
            backpressure: drop_oldest
            queue_size: 1000000
        """
    }
}
