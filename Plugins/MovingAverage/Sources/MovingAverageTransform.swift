import HyphaeCore

/// Adds the moving average of one numeric field to every frame that carries it.
///
/// This module is the worked example of Docs/WRITING_STAGES.md: a stage written
/// exactly as a user would write their own.
public struct MovingAverageTransform: TransformStage {
    public struct Configuration: StageConfiguration {
        /// The field to average, as a path into the payload: `features.pot_mean_mV`.
        public var field: [String]
        public var window: Int
        public var output: String

        public init(reading config: inout ConfigReader) {
            let path = config.string("field", default: nil, summary: "the numeric field to average, as a dotted path into the payload, e.g. features.pot_mean_mV")
            field = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            window = config.int("window", default: 10, min: 1, max: 100_000, summary: "how many of the latest values to average")
            output = config.string("output", default: config.isDescribing ? "<field>_avg" : "\(field.last ?? "value")_avg", summary: "the payload field the average is written to (default: the field's name + _avg)")
            if !config.isDescribing, config.contains("field"), field.contains(where: \.isEmpty) {
                config.problem("field", "expected a dotted path such as features.pot_mean_mV, found '\(path)'")
            }
        }
    }

    public static let stageType = "moving_average"
    public static let summary = "adds the moving average of a numeric payload field over the last N frames"

    private let configuration: Configuration
    /// The latest values, used as a ring so that no frame allocates.
    private var ring: [Double]
    private var next = 0
    private var filled = 0
    private var sum = 0.0

    public init(configuration: Configuration, context: StageContext) {
        self.configuration = configuration
        ring = Array(repeating: 0, count: configuration.window)
    }

    public mutating func process(_ frame: Frame, into output: inout [Frame]) {
        guard let value = Self.number(at: configuration.field[...], in: frame.payload) else {
            output.append(frame)
            return
        }
        if filled == ring.count {
            sum -= ring[next]
        } else {
            filled += 1
        }
        ring[next] = value
        sum += value
        next = (next + 1) % ring.count
        var averaged = frame
        averaged.payload[configuration.output] = .double(sum / Double(filled))
        output.append(averaged)
    }

    private static func number(at path: ArraySlice<String>, in object: JSONObject) -> Double? {
        guard let key = path.first, let value = object[key] else { return nil }
        if path.count == 1 { return value.numberValue }
        guard let nested = value.objectValue else { return nil }
        return number(at: path.dropFirst(), in: nested)
    }
}

public enum MovingAveragePlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(MovingAverageTransform.self)
    }
}
