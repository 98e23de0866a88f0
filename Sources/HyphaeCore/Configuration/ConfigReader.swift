/// One field of a stage's configuration, as `hyphae stages` lists it.
public struct ConfigField: Sendable, Hashable {
    public var name: String
    /// `int`, `float`, `bool`, `string`, `list of strings`, ...
    public var type: String
    /// The default as YAML would write it; nil when the field is required.
    public var defaultValue: String?
    /// Bounds or allowed values, e.g. `1...1000` or `one of: drop_oldest, drop_newest`.
    public var constraint: String?
    public var summary: String
    /// A required field has no default and must be set; an optional one may be left out.
    public var isRequired: Bool
}

/// Reads a stage's configuration from its YAML mapping, one typed field at a time.
///
/// A configuration's initializer asks for each field by name, type, default and
/// bounds. Problems are recorded rather than thrown, so that a file reports all of
/// its errors at once; each names the file, line, column and field. The same
/// initializer, run against no node, describes the fields for `hyphae stages`.
///
/// ```swift
/// init(reading config: inout ConfigReader) {
///     every = config.int("every", default: 1, min: 1, summary: "keep every N-th frame")
/// }
/// ```
public struct ConfigReader {
    private let node: ConfigNode?
    private let values: ReferenceValues
    private let fieldPrefix: String
    private let stageType: String
    /// What the mapping is, for "unknown field ... in <subject>".
    private let subject: String
    private var readKeys: Set<String> = ["type"]

    public private(set) var diagnostics: [Diagnostic] = []
    public private(set) var fields: [ConfigField] = []
    /// Params referred to by the fields read so far.
    public private(set) var usedParams: Set<String> = []

    /// A reader over a stage's mapping; `fieldPrefix` is its path in the file, e.g. `transforms[0]`.
    public init(node: ConfigNode, stageType: String, fieldPrefix: String, values: ReferenceValues, subject: String? = nil) {
        self.node = node
        self.values = values
        self.fieldPrefix = fieldPrefix
        self.stageType = stageType
        self.subject = subject ?? "stage '\(stageType)'"
    }

    /// A reader that only records the fields asked for and hands back their defaults.
    public init(describing stageType: String) {
        node = nil
        values = ReferenceValues(params: [:], environment: [:])
        fieldPrefix = ""
        self.stageType = stageType
        subject = "stage '\(stageType)'"
    }

    public var isDescribing: Bool { node == nil }

    // MARK: Typed fields

    /// An integer; with no default the field is required.
    public mutating func int(_ key: String, default fallback: Int?, min: Int? = nil, max: Int? = nil, summary: String) -> Int {
        readInt(key, default: fallback, min: min, max: max, summary: summary, required: fallback == nil) ?? fallback ?? min ?? 0
    }

    /// An integer that may be left out (nil).
    public mutating func optionalInt(_ key: String, min: Int? = nil, max: Int? = nil, summary: String) -> Int? {
        readInt(key, default: nil, min: min, max: max, summary: summary, required: false)
    }

    private mutating func readInt(_ key: String, default fallback: Int?, min: Int?, max: Int?, summary: String, required: Bool) -> Int? {
        let bounds = Self.boundsText(min: min.map(String.init), max: max.map(String.init), below: nil)
        record(key, type: "int", default: fallback.map(String.init), constraint: bounds, summary: summary, required: required)
        guard let (input, location) = input(for: key) else { return fallback }
        var found: Int?
        switch input {
        case .text(let text, true): found = Int(text)
        case .value(.int(let value), _): found = value
        case .value(.double(let value), _) where value == value.rounded() && abs(value) < 1e18: found = Int(value)
        default: break
        }
        guard let value = found else {
            problem(key, at: location, "expected an integer, found \(input.description)")
            return fallback
        }
        if (min.map { value < $0 } ?? false) || (max.map { value > $0 } ?? false) {
            problem(key, at: location, "expected an integer \(bounds ?? ""), found \(input.description)")
            return fallback
        }
        return value
    }

    /// A number; `below` is an exclusive upper bound, for limits such as a stability condition.
    public mutating func double(
        _ key: String, default fallback: Double?, min: Double? = nil, max: Double? = nil, below: Double? = nil, summary: String
    ) -> Double {
        readDouble(key, default: fallback, min: min, max: max, below: below, summary: summary, required: fallback == nil) ?? fallback ?? min ?? 0
    }

    /// A number that may be left out (nil).
    public mutating func optionalDouble(
        _ key: String, min: Double? = nil, max: Double? = nil, below: Double? = nil, summary: String
    ) -> Double? {
        readDouble(key, default: nil, min: min, max: max, below: below, summary: summary, required: false)
    }

    private mutating func readDouble(
        _ key: String, default fallback: Double?, min: Double?, max: Double?, below: Double?, summary: String, required: Bool
    ) -> Double? {
        let bounds = Self.boundsText(min: min.map(Self.format), max: max.map(Self.format), below: below.map(Self.format))
        record(key, type: "float", default: fallback.map(Self.format), constraint: bounds, summary: summary, required: required)
        guard let (input, location) = input(for: key) else { return fallback }
        var found: Double?
        switch input {
        case .text(let text, true): found = Double(text).flatMap { $0.isFinite ? $0 : nil }
        case .value(let value, _): found = value.numberValue
        default: break
        }
        guard let value = found else {
            problem(key, at: location, "expected a number, found \(input.description)")
            return fallback
        }
        let tooLow = min.map { value < $0 } ?? false
        let tooHigh = (max.map { value > $0 } ?? false) || (below.map { value >= $0 } ?? false)
        if tooLow || tooHigh {
            problem(key, at: location, "expected a number \(bounds ?? ""), found \(input.description)")
            return fallback
        }
        return value
    }

    public mutating func bool(_ key: String, default fallback: Bool?, summary: String) -> Bool {
        record(key, type: "bool", default: fallback.map { $0 ? "true" : "false" }, constraint: nil, summary: summary, required: fallback == nil)
        guard let (input, location) = input(for: key) else { return fallback ?? false }
        switch input {
        case .text(let text, true) where ["true", "True", "TRUE"].contains(text): return true
        case .text(let text, true) where ["false", "False", "FALSE"].contains(text): return false
        case .value(.bool(let value), _): return value
        default:
            problem(key, at: location, "expected true or false, found \(input.description)")
            return fallback ?? false
        }
    }

    /// Text; with no default the field is required.
    public mutating func string(_ key: String, default fallback: String?, allowed: [String]? = nil, summary: String) -> String {
        readString(key, default: fallback, allowed: allowed, summary: summary, required: fallback == nil) ?? fallback ?? ""
    }

    /// Text that may be left out (nil).
    public mutating func optionalString(_ key: String, allowed: [String]? = nil, summary: String) -> String? {
        readString(key, default: nil, allowed: allowed, summary: summary, required: false)
    }

    private mutating func readString(_ key: String, default fallback: String?, allowed: [String]?, summary: String, required: Bool) -> String? {
        let constraint = allowed.map { "one of: " + $0.joined(separator: ", ") }
        record(key, type: "string", default: fallback, constraint: constraint, summary: summary, required: required)
        guard let (input, location) = input(for: key) else { return fallback }
        let text: String
        switch input {
        case .text(let value, _): text = value
        case .value(.string(let value), _): text = value
        default:
            problem(key, at: location, "expected a string, found \(input.description)")
            return fallback
        }
        if let allowed, !allowed.contains(text) {
            problem(key, at: location, "expected one of \(Self.list(allowed)), found '\(text)'\(Suggestions.didYouMean(text, in: allowed))")
            return fallback
        }
        return text
    }

    /// One of an enumeration's raw values, e.g. a backpressure policy.
    public mutating func choice<Choice: CaseIterable & RawRepresentable>(
        _ key: String, default fallback: Choice, summary: String
    ) -> Choice where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue)
        let text = string(key, default: fallback.rawValue, allowed: names, summary: summary)
        return Choice(rawValue: text) ?? fallback
    }

    public mutating func stringList(_ key: String, default fallback: [String]?, allowed: [String]? = nil, summary: String) -> [String] {
        let constraint = allowed.map { "each one of: " + $0.joined(separator: ", ") }
        record(key, type: "list of strings", default: fallback.map { "[" + $0.joined(separator: ", ") + "]" }, constraint: constraint, summary: summary, required: fallback == nil)
        guard let field = entry(for: key), !field.value.isNull else { return fallback ?? [] }
        var items: [(String, SourceLocation, FieldInput)] = []
        if let elements = field.value.elements {
            for element in elements {
                guard let (input, location) = resolveScalar(element, key: key) else { continue }
                guard case .text(let text, _) = input else {
                    problem(key, at: location, "expected a list of strings, found \(input.description) in it")
                    continue
                }
                items.append((text, location, input))
            }
        } else if let (input, location) = resolveScalar(field.value, key: key) {
            switch input {
            case .value(.array(let values), _):
                for value in values {
                    guard case .string(let text) = value else {
                        problem(key, at: location, "expected a list of strings, found \(value.jsonText) in \(input.description)")
                        continue
                    }
                    items.append((text, location, input))
                }
            default:
                problem(key, at: location, "expected a list of strings, found \(input.description)")
                return fallback ?? []
            }
        } else {
            return fallback ?? []
        }
        if let allowed {
            for (text, location, _) in items where !allowed.contains(text) {
                problem(key, at: location, "'\(text)' is not one of \(Self.list(allowed))\(Suggestions.didYouMean(text, in: allowed))")
            }
        }
        return items.map(\.0)
    }

    /// A mapping of names to text, such as the environment of a program a stage runs.
    /// Each value may refer to params and the environment like any scalar field; a
    /// param that is not text is written as JSON. A null value is reported, since
    /// leaving a name without a value is more likely a slip than a wish for "".
    public mutating func stringMapping(_ key: String, summary: String) -> [(key: String, value: String)] {
        record(key, type: "mapping of strings", default: nil, constraint: nil, summary: summary, required: false)
        guard let field = entry(for: key), !field.value.isNull else { return [] }
        guard let members = field.value.entries else {
            problem(key, at: field.value.location, "expected a mapping of names to text, found \(field.value.kindDescription)")
            return []
        }
        var pairs: [(key: String, value: String)] = []
        for member in members {
            let memberKey = "\(key).\(member.key)"
            if member.value.isNull {
                problem(memberKey, at: member.value.location, "expected text, found nothing; write \"\" for an empty value")
                continue
            }
            guard let (input, _) = resolveScalar(member.value, key: memberKey) else { continue }
            switch input {
            case .text(let text, _): pairs.append((member.key, text))
            case .value(let value, _): pairs.append((member.key, value.stringValue ?? value.jsonText))
            }
        }
        return pairs
    }

    /// The file the stage's mapping was read from, as the loader was given it; nil
    /// while describing. A stage that names files resolves them against its folder.
    public var file: String? { node?.location.file }

    /// The field's node as written, for settings with a shape of their own
    /// (a list of mappings); the caller reads and checks it.
    public mutating func node(_ key: String, type: String, summary: String) -> ConfigNode? {
        record(key, type: type, default: nil, constraint: nil, summary: summary, required: false)
        guard let field = entry(for: key), !field.value.isNull else { return nil }
        return field.value
    }

    /// Records a problem at a node of the caller's, with the field path it belongs to.
    public mutating func problem(at node: ConfigNode, field: String, _ message: String) {
        guard !isDescribing else { return }
        diagnostics.append(.error(at: node.location, field: path(field), message))
    }

    /// Records a problem that involves a field's value as a whole, such as two
    /// fields that exclude each other. Nothing is recorded while describing.
    public mutating func problem(_ key: String?, _ message: String) {
        let location = key.flatMap { entry(for: $0)?.value.location } ?? node?.location
        problem(key, at: location, message)
    }

    /// Whether the stage's mapping sets `key` at all.
    public func contains(_ key: String) -> Bool {
        guard let field = node?[key] else { return false }
        return !field.value.isNull
    }

    /// Reports every key that no field asked for, with the nearest known names.
    /// Called once the configuration's initializer has returned.
    public mutating func finish() {
        guard let entries = node?.entries else { return }
        let known = fields.map(\.name)
        for entry in entries where !readKeys.contains(entry.key) {
            let hint = Suggestions.didYouMean(entry.key, in: known)
            let knownList = known.isEmpty ? "it takes no fields" : "known fields: \(known.joined(separator: ", "))"
            let message = "unknown field '\(entry.key)' in \(subject)" + (hint.isEmpty ? " (\(knownList))" : hint)
            diagnostics.append(.error(at: entry.keyLocation, field: path(entry.key), message))
        }
    }

    // MARK: Reading values

    private enum FieldInput: CustomStringConvertible {
        /// Text from the file or the environment; plain text may still be a number or a boolean.
        case text(String, isPlain: Bool)
        /// A param's value, typed already.
        case value(JSONValue, param: String)

        var description: String {
            switch self {
            case .text(let text, _): "'\(text)'"
            case .value(let value, let param): "\(value.jsonText) (param '\(param)')"
            }
        }
    }

    private mutating func record(_ key: String, type: String, default fallback: String?, constraint: String?, summary: String, required: Bool) {
        readKeys.insert(key)
        guard !fields.contains(where: { $0.name == key }) else { return }
        fields.append(ConfigField(name: key, type: type, defaultValue: fallback, constraint: constraint, summary: summary, isRequired: required))
    }

    private func entry(for key: String) -> ConfigEntry? {
        node?[key]
    }

    private func path(_ key: String) -> String {
        fieldPrefix.isEmpty ? key : "\(fieldPrefix).\(key)"
    }

    private mutating func problem(_ key: String?, at location: SourceLocation?, _ message: String) {
        guard !isDescribing else { return }
        diagnostics.append(.error(at: location, field: key.map(path) ?? (fieldPrefix.isEmpty ? nil : fieldPrefix), message))
    }

    /// The field's value with references resolved; nil when absent or null. A missing
    /// required field is reported here.
    private mutating func input(for key: String) -> (FieldInput, SourceLocation)? {
        guard let field = entry(for: key) else {
            if let last = fields.last(where: { $0.name == key }), last.isRequired, !isDescribing {
                problem(key, at: node?.location, "missing required field '\(key)'")
            }
            return nil
        }
        if field.value.isNull { return nil }
        guard field.value.scalarText != nil else {
            problem(key, at: field.value.location, "expected a single value, found \(field.value.kindDescription)")
            return nil
        }
        return resolveScalar(field.value, key: key)
    }

    private mutating func resolveScalar(_ node: ConfigNode, key: String) -> (FieldInput, SourceLocation)? {
        guard case .scalar(let text, let isPlain) = node.content else {
            problem(key, at: node.location, "expected a single value, found \(node.kindDescription)")
            return nil
        }
        let interpolated: InterpolatedText
        switch InterpolatedText.parse(text) {
        case .success(let parsed): interpolated = parsed
        case .failure(let error):
            problem(key, at: node.location, error.description)
            return nil
        }
        guard interpolated.hasReferences else {
            // The parsed parts, not the raw text: `$${` has become a literal `${` in them.
            let literal = interpolated.parts.map { part in
                if case .literal(let literal) = part { literal } else { "" }
            }.joined()
            return (.text(literal, isPlain: isPlain), node.location)
        }
        if let sole = interpolated.soleReference {
            switch sole {
            case .param(let name):
                guard let value = paramValue(name, key: key, at: node.location) else { return nil }
                return (.value(value, param: name), node.location)
            case .environment(let name, let fallback):
                guard let value = environmentValue(name, default: fallback, key: key, at: node.location) else { return nil }
                return (.text(value, isPlain: true), node.location)
            }
        }
        var result = ""
        for part in interpolated.parts {
            switch part {
            case .literal(let literal):
                result += literal
            case .reference(.param(let name)):
                guard let value = paramValue(name, key: key, at: node.location) else { return nil }
                result += value.stringValue ?? value.jsonText
            case .reference(.environment(let name, let fallback)):
                guard let value = environmentValue(name, default: fallback, key: key, at: node.location) else { return nil }
                result += value
            }
        }
        return (.text(result, isPlain: false), node.location)
    }

    private mutating func paramValue(_ name: String, key: String, at location: SourceLocation) -> JSONValue? {
        usedParams.insert(name)
        guard let value = values.params[name] else {
            let hint = Suggestions.didYouMean(name, in: values.params.keys)
            problem(key, at: location, "param '\(name)' is used but not declared under 'params'\(hint)")
            return nil
        }
        return value
    }

    private mutating func environmentValue(_ name: String, default fallback: String?, key: String, at location: SourceLocation) -> String? {
        if let value = values.environment[name] { return value }
        if let fallback { return fallback }
        problem(key, at: location, "environment variable '\(name)' is not set; set it, or give a default with ${env:\(name):-value}")
        return nil
    }

    // MARK: Wording

    static func format(_ number: Double) -> String {
        var writer = JSONWriter(capacity: 24)
        writer.write(number)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    static func boundsText(min: String?, max: String?, below: String?) -> String? {
        switch (min, max, below) {
        case let (min?, max?, _): "from \(min) to \(max)"
        case let (min?, nil, below?): "from \(min) to below \(below)"
        case let (nil, nil, below?): "below \(below)"
        case let (min?, nil, nil): "of at least \(min)"
        case let (nil, max?, _): "of at most \(max)"
        case (nil, nil, nil): nil
        }
    }

    static func list(_ names: [String]) -> String {
        names.map { "'\($0)'" }.joined(separator: ", ")
    }
}
