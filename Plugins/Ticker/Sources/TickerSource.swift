import HyphaeCore

/// Emits a counter at a steady rate: for demos, tests and load benchmarks.
public struct TickerSource: SourceStage {
    public struct Configuration: StageConfiguration {
        public var rate: Double
        public var count: Int?
        public var messageType: String
        public var payloadBytes: Int

        public init(reading config: inout ConfigReader) {
            rate = config.double("rate", default: 10, min: 0, max: 1_000_000, summary: "frames per second; 0 emits as fast as the sinks take them")
            count = config.optionalInt("count", min: 1, summary: "stop after this many frames; endless when not set")
            messageType = config.string("message_type", default: "tick", summary: "the frames' message type")
            payloadBytes = config.int("payload_bytes", default: 0, min: 0, max: 16_777_216, summary: "adds a 'data' string of this many bytes, to size frames for benchmarks")
            if messageType.isEmpty { config.problem("message_type", "expected a non-empty message type") }
        }
    }

    public static let stageType = "ticker"
    public static let summary = "emits a counter frame at a rate, endless or a given number of times"

    public static func isFinite(_ configuration: Configuration) -> Bool {
        configuration.count != nil
    }

    private let configuration: Configuration
    private var pacer: Pacer<ContinuousClock>
    private let padding: JSONValue?
    private var emitted = 0

    public init(configuration: Configuration, context: StageContext) {
        self.configuration = configuration
        pacer = Pacer(framesPerSecond: configuration.rate)
        padding = configuration.payloadBytes > 0 ? .string(String(repeating: "x", count: configuration.payloadBytes)) : nil
    }

    public mutating func next() async throws -> Frame? {
        if let count = configuration.count, emitted >= count { return nil }
        try await pacer.waitForNextTick()
        emitted += 1
        var payload = JSONObject(minimumCapacity: 2)
        payload.append("count", .int(emitted))
        if let padding { payload.append("data", padding) }
        let isLast = configuration.count == emitted
        return Frame(type: configuration.messageType, payload: payload, delivery: isLast ? .essential : .droppable)
    }
}

public enum TickerPlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(TickerSource.self)
    }
}
