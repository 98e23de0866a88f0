/// What a pipeline test expects of one value: a payload field, a frame's type, the
/// number of frames. Every condition set must hold.
public struct ValueMatcher: Sendable, Equatable {
    /// The JSON kinds a test can ask for with `type:`.
    public enum Kind: String, Sendable, CaseIterable {
        case int, float, number, string, bool, list, object, null

        func matches(_ value: JSONValue) -> Bool {
            switch (self, value) {
            case (.int, .int), (.float, .double), (.number, .int), (.number, .double), (.string, .string),
                (.bool, .bool), (.list, .array), (.list, .numbers), (.object, .object), (.null, .null):
                true
            default:
                false
            }
        }

        var phrase: String {
            switch self {
            case .int: "an int"
            case .float: "a float"
            case .number: "a number"
            case .string: "a string"
            case .bool: "a bool"
            case .list: "a list"
            case .object: "an object"
            case .null: "null"
            }
        }
    }

    /// The names a test file may use in a value check's mapping.
    public static let conditionNames = ["equals", "tolerance", "min", "max", "type", "length", "exists"]

    /// Equal as JSON, numbers by value (`3` equals `3.0`; use `type` to tell them apart).
    public var equals: JSONValue?
    /// With `equals`: numbers, and numbers inside lists and objects, may differ by this much.
    public var tolerance: Double?
    public var minimum: Double?
    public var maximum: Double?
    public var kind: Kind?
    /// Characters of a string, items of a list, members of an object.
    public var length: Int?
    /// Whether the field must be there (true) or must not (false). Every other
    /// condition already requires it to be there.
    public var exists: Bool?

    public init(
        equals: JSONValue? = nil, tolerance: Double? = nil, minimum: Double? = nil, maximum: Double? = nil,
        kind: Kind? = nil, length: Int? = nil, exists: Bool? = nil
    ) {
        self.equals = equals
        self.tolerance = tolerance
        self.minimum = minimum
        self.maximum = maximum
        self.kind = kind
        self.length = length
        self.exists = exists
    }

    /// Whether `actual` (nil: the field is absent) meets every condition.
    public func matches(_ actual: JSONValue?) -> Bool {
        guard let actual else { return exists == false }
        if exists == false { return false }
        if let equals, !Self.equal(equals, actual, tolerance: tolerance ?? 0) { return false }
        if minimum != nil || maximum != nil {
            guard let number = actual.numberValue else { return false }
            if let minimum, number < minimum { return false }
            if let maximum, number > maximum { return false }
        }
        if let kind, !kind.matches(actual) { return false }
        if let length, Self.length(of: actual) != length { return false }
        return true
    }

    /// The conditions in words, as the `-` line of a diff shows them: `3`,
    /// `0.5 ± 0.01`, `from 0 to 1`, `a string of length 16`, `absent`.
    public var expectationText: String {
        var parts: [String] = []
        if let equals {
            parts.append(tolerance.map { "\(equals.jsonText) ± \(ConfigReader.format($0))" } ?? equals.jsonText)
        }
        if let bounds = ConfigReader.boundsText(min: minimum.map(ConfigReader.format), max: maximum.map(ConfigReader.format), below: nil) {
            parts.append(bounds)
        }
        if let kind { parts.append(kind.phrase) }
        if let length { parts.append("of length \(length)") }
        if parts.isEmpty { return exists == false ? "absent" : "present" }
        return parts.joined(separator: ", ")
    }

    /// A value as the `+` line of a diff shows it, with what the conditions look at
    /// (its kind, its length) when the JSON alone would not say.
    public func actualText(_ actual: JSONValue?, limit: Int = 120) -> String {
        guard let actual else { return "absent" }
        var text = Self.abbreviated(actual.jsonText, limit: limit)
        var notes: [String] = []
        if kind != nil { notes.append(Self.kind(of: actual).phrase) }
        if length != nil { notes.append(Self.length(of: actual).map { "of length \($0)" } ?? "without a length") }
        if !notes.isEmpty { text += " (\(notes.joined(separator: ", ")))" }
        return text
    }

    // MARK: Comparing

    static func equal(_ expected: JSONValue, _ actual: JSONValue, tolerance: Double) -> Bool {
        if let left = expected.numberValue, let right = actual.numberValue {
            return left == right || abs(left - right) <= tolerance
        }
        switch (expected, actual) {
        case (.object(let left), .object(let right)):
            return left.count == right.count
                && left.allSatisfy { member in right[member.key].map { equal(member.value, $0, tolerance: tolerance) } ?? false }
        case (.array, .array), (.array, .numbers), (.numbers, .array), (.numbers, .numbers):
            guard let left = expected.arrayValue, let right = actual.arrayValue, left.count == right.count else { return false }
            return zip(left, right).allSatisfy { equal($0, $1, tolerance: tolerance) }
        default:
            return expected == actual
        }
    }

    static func length(of value: JSONValue) -> Int? {
        switch value {
        case .string(let text): text.count
        case .array(let items): items.count
        case .numbers(let numbers): numbers.count
        case .object(let object): object.count
        case .null, .bool, .int, .double: nil
        }
    }

    static func kind(of value: JSONValue) -> Kind {
        switch value {
        case .null: .null
        case .bool: .bool
        case .int: .int
        case .double: .float
        case .string: .string
        case .array, .numbers: .list
        case .object: .object
        }
    }

    /// Long values (a simulation's field of 4,096 numbers) cut to what a reader can take in.
    static func abbreviated(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return text }
        return text.prefix(limit) + "… (\(text.count) characters)"
    }
}
