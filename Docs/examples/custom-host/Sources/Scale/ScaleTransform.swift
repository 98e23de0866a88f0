import HyphaeCore

/// Multiplies a numeric payload field by a factor and adds an offset: a unit
/// conversion (volts to millivolts), a gain, a calibration.
public struct ScaleTransform: TransformStage {
    public struct Configuration: StageConfiguration {
        /// The field as a path into the payload: `features.pot_mean_mV` is `["features", "pot_mean_mV"]`.
        public var field: [String]
        public var factor: Double
        public var offset: Double
        /// Where the result goes: a top-level payload field, or nil to replace the field itself.
        public var output: String?

        public init(reading config: inout ConfigReader) {
            let path = config.string("field", default: nil, summary: "the numeric field to scale, as a dotted path into the payload, e.g. features.pot_mean_mV")
            field = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            factor = config.double("factor", default: 1, summary: "what the value is multiplied by")
            offset = config.double("offset", default: 0, summary: "what is added after multiplying")
            output = config.optionalString("output", summary: "the payload field the result is written to; when not set, the field itself is replaced")
            if !config.isDescribing, config.contains("field"), field.contains(where: \.isEmpty) {
                config.problem("field", "expected a dotted path such as features.pot_mean_mV, found '\(path)'")
            }
            if !config.isDescribing, output?.isEmpty == true {
                config.problem("output", "expected a field name; leave 'output' out to replace the field itself")
            }
        }
    }

    public static let stageType = "scale"
    public static let summary = "multiplies a numeric payload field by a factor and adds an offset"

    private let configuration: Configuration

    public init(configuration: Configuration, context: StageContext) {
        self.configuration = configuration
    }

    public mutating func process(_ frame: Frame, into output: inout [Frame]) throws {
        // Frames of other types on the same stream have no such field: they pass as they are.
        guard let found = Self.value(at: configuration.field[...], in: frame.payload) else {
            output.append(frame)
            return
        }
        guard let number = found.numberValue else {
            let name = configuration.field.joined(separator: ".")
            throw StageError("'\(name)' is \(found.typeDescription) in a '\(frame.type)' frame, not a number; point 'field' at a numeric field")
        }
        let result = JSONValue.double(number * configuration.factor + configuration.offset)
        var scaled = frame
        if let name = configuration.output {
            scaled.payload[name] = result
        } else {
            Self.replace(at: configuration.field[...], in: &scaled.payload, with: result)
        }
        output.append(scaled)
    }

    private static func value(at path: ArraySlice<String>, in object: JSONObject) -> JSONValue? {
        guard let key = path.first, let value = object[key] else { return nil }
        if path.count == 1 { return value }
        return value.objectValue.flatMap { self.value(at: path.dropFirst(), in: $0) }
    }

    /// Only called for a path that `value(at:in:)` found, so every step exists.
    private static func replace(at path: ArraySlice<String>, in object: inout JSONObject, with value: JSONValue) {
        guard let key = path.first else { return }
        guard path.count > 1, var nested = object[key]?.objectValue else {
            object[key] = value
            return
        }
        replace(at: path.dropFirst(), in: &nested, with: value)
        object[key] = .object(nested)
    }
}

/// What `my-hyphae` installs next to the built-in stage modules.
public enum ScalePlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(ScaleTransform.self)
    }
}
