/// The pipelines that tests of client programs (`hyphae subscribe`, the Python
/// example client) subscribe to on a `RunningHost`.
public enum ClientTestPipelines {
    /// An endless ticker on `/ws/ticker`, its `rate` a param.
    public static let ticker = """
        name: ticker
        params:
          rate: { type: float, default: 10, min: 0.1, max: 10000 }
        source:
          type: ticker
          rate: ${rate}
        sinks:
          - type: websocket
            path: /ws/ticker
        """

    /// A finite run of `count` (default 4) `step` frames on `/ws/countdown`.
    public static let countdown = """
        name: countdown
        params:
          count: { type: int, default: 4, min: 1, max: 100 }
        source:
          type: ticker
          rate: 100
          count: ${count}
          message_type: step
        sinks:
          - type: websocket
            path: /ws/countdown
        """

    /// A folder with `ticker` and `countdown`, plus `extra` files (name to text).
    public static func folder(adding extra: [String: String] = [:]) throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        try folder.write("ticker.yaml", ticker)
        try folder.write("countdown.yaml", countdown)
        for (name, text) in extra {
            try folder.write(name, text)
        }
        return folder
    }
}
