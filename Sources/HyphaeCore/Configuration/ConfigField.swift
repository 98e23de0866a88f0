/// One field of a stage's configuration, as `hyphae stages` lists it: what a
/// configuration's initializer asked the `ConfigReader` for, kept as data so that
/// it can be printed for people or as JSON for tools.
public struct ConfigField: Sendable, Hashable {
    public var name: String
    /// `int`, `float`, `bool`, `string`, `list of strings`, ...
    public var type: String
    /// The value when the field is left out; nil when there is none (the field is
    /// required, or optional and then unset).
    public var defaultValue: JSONValue?
    /// The lowest value allowed, inclusive; nil when unbounded below or not a number.
    public var minimum: Double?
    /// The highest value allowed, inclusive.
    public var maximum: Double?
    /// A limit the value must stay under, exclusive (a stability condition, a fraction below 1).
    public var below: Double?
    /// The only values allowed, or for a list the values each item may take.
    public var allowedValues: [String]?
    public var summary: String
    /// A required field has no default and must be set; an optional one may be left out.
    public var isRequired: Bool

    public init(
        name: String, type: String, defaultValue: JSONValue? = nil, minimum: Double? = nil, maximum: Double? = nil,
        below: Double? = nil, allowedValues: [String]? = nil, summary: String, isRequired: Bool
    ) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.minimum = minimum
        self.maximum = maximum
        self.below = below
        self.allowedValues = allowedValues
        self.summary = summary
        self.isRequired = isRequired
    }

    /// The bounds in words, e.g. `from 1 to 1000` or `of at least 0`; nil when unbounded.
    public var boundsText: String? {
        ConfigReader.boundsText(min: minimum.map(numberText), max: maximum.map(numberText), below: below.map(numberText))
    }

    /// Bounds or allowed values in words, e.g. `from 1 to 1000` or `one of: drop_oldest, drop_newest`.
    public var constraint: String? {
        if let allowedValues {
            return (type.hasPrefix("list") ? "each one of: " : "one of: ") + allowedValues.joined(separator: ", ")
        }
        return boundsText
    }

    /// The default as YAML would write it: `10`, `0.5`, `true`, `tick`, `[a, b]`.
    public var defaultText: String? {
        defaultValue.map(Self.yamlText)
    }

    /// The field for tools: name, type, default, whether it is required, bounds
    /// and allowed values when it has them, and the description. Keys keep this order.
    public var descriptionJSON: JSONValue {
        var object = JSONObject(minimumCapacity: 9)
        object.append("name", .string(name))
        object.append("type", .string(type))
        object.append("default", defaultValue ?? .null)
        object.append("required", .bool(isRequired))
        if let minimum { object.append("min", number(minimum)) }
        if let maximum { object.append("max", number(maximum)) }
        if let below { object.append("below", number(below)) }
        if let allowedValues { object.append("allowed", .array(allowedValues.map(JSONValue.string))) }
        object.append("description", .string(summary))
        return .object(object)
    }

    /// A bound in the field's own type: an integer field's bounds are integers.
    private func number(_ value: Double) -> JSONValue {
        if type == "int", let integer = Int(exactly: value) { return .int(integer) }
        return .double(value)
    }

    private func numberText(_ value: Double) -> String {
        if type == "int", let integer = Int(exactly: value) { return String(integer) }
        return ConfigReader.format(value)
    }

    private static func yamlText(_ value: JSONValue) -> String {
        switch value {
        case .double(let number): ConfigReader.format(number)
        case .string(let text): text
        case .array(let items): "[" + items.map(yamlText).joined(separator: ", ") + "]"
        case .numbers(let numbers): "[" + numbers.map(ConfigReader.format).joined(separator: ", ") + "]"
        case .null, .bool, .int, .object: value.jsonText
        }
    }
}
