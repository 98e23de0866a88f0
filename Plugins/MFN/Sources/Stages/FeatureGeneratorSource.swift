import HyphaeCore

/// An endless mycelium field that emits its features as `feature_update` every `update_interval_ms`,
/// stepping the field `steps_per_update` times before each frame so that every frame shows a new state.
public struct FeatureGeneratorSource: SourceStage {
    public struct Configuration: StageConfiguration {
        public var field: FieldSettings
        public var updateIntervalMilliseconds: Int
        public var stepsPerUpdate: Int
        public var features: FeatureSelection

        /// Significant digits kept by `round_features`: enough for a chart, and about half the bytes.
        public static let roundedSignificantDigits = 4

        public init(reading config: inout ConfigReader) {
            field = FieldSettings(reading: &config)
            updateIntervalMilliseconds = config.int(
                "update_interval_ms", default: 100, min: 10, max: 10_000, summary: "time between feature_update frames, in milliseconds")
            stepsPerUpdate = config.int(
                "steps_per_update", default: 1, min: 1, max: 1000, summary: "field steps between two frames")
            let names = config.stringList(
                "features", default: FeatureSelection.allNames, allowed: FeatureSelection.allNames,
                summary: "the features each frame carries (sent in the standard order)")
            if names.isEmpty, config.contains("features") {
                config.problem("features", "expected at least one feature, found an empty list; leave 'features' out to send all \(FeatureSelection.allNames.count)")
            }
            let rounding = config.bool(
                "round_features", default: false,
                summary: "rounds every feature to \(Self.roundedSignificantDigits) significant digits, for smaller frames")
            features = FeatureSelection(names: names, significantDigits: rounding ? Self.roundedSignificantDigits : nil)
        }
    }

    public static let stageType = "feature_generator"
    public static let summary = "an endless mycelium field: its features as feature_update every update_interval_ms"

    private let configuration: Configuration
    private var field: MyceliumField
    private var pacer: Pacer<ContinuousClock>

    public init(configuration: Configuration, context: StageContext) throws {
        self.configuration = configuration
        field = try configuration.field.makeField()
        pacer = Pacer(interval: .milliseconds(configuration.updateIntervalMilliseconds))
    }

    public mutating func next() async throws -> Frame? {
        try await pacer.waitForNextTick()
        do {
            for _ in 0..<configuration.stepsPerUpdate {
                try field.step()
            }
        } catch {
            throw error.stageError
        }
        var payload = JSONObject(minimumCapacity: 1)
        payload.append("features", .object(configuration.features.object(from: field.features())))
        return Frame(type: "feature_update", payload: payload)
    }
}
