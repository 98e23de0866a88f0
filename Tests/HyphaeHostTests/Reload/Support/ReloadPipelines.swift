/// Pipeline files for the reload tests. Each is a ticker (the lightest source)
/// whose text can be varied: a different `revision` in the description gives a new
/// version without changing what it emits.
enum ReloadPipelines {
    static func ticker(
        name: String,
        path: String? = nil,
        revision: Int = 1,
        rate: Double = 20,
        maxRate: Double = 1000,
        payloadBytes: Int = 0
    ) -> String {
        """
        name: \(name)
        description: ticker for reload tests, revision \(revision)
        params:
          rate:          { type: float, default: \(rate), min: 0.1, max: \(maxRate), description: frames per second }
          payload_bytes: { type: int,   default: \(payloadBytes), min: 0, max: 4096, description: extra bytes per frame }
        source:
          type: ticker
          rate: ${rate}
          payload_bytes: ${payload_bytes}
        sinks:
          - type: websocket
            path: \(path ?? "/ws/\(name)")
            backpressure: drop_oldest
            queue_size: 1000

        """
    }

    /// A file that fails validation: an unknown source type, on line 5, column 9.
    static func invalid(name: String, revision: Int = 1) -> String {
        """
        name: \(name)
        description: broken on purpose, revision \(revision)
        params: {}
        source:
          type: no_such_source
        sinks:
          - type: websocket
            path: /ws/\(name)

        """
    }

    /// A pipeline whose source validates but, when asked, refuses to be built.
    static func startupCheck(name: String, refuseToStart: Bool, revision: Int = 1) -> String {
        """
        name: \(name)
        description: startup check, revision \(revision)
        source:
          type: startup_check
          rate: 20
          refuse_to_start: \(refuseToStart)
        sinks:
          - type: websocket
            path: /ws/\(name)

        """
    }
}
