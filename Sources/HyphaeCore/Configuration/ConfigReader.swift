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
    /// Each field as it was read, in the order asked: the value from the mapping
    /// with params and the environment resolved, else the default; null when an
    /// optional field is not set. What `hyphae graph` shows of a stage.
    public private(set) var settings = JSONObject()
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
        let value = readInt(key, default: fallback, min: min, max: max, summary: summary, required: fallback == nil) ?? fallback ?? min ?? 0
        note(key, .int(value))
        return value
    }

    /// An integer that may be left out (nil).
    public mutating func optionalInt(_ key: String, min: Int? = nil, max: Int? = nil, summary: String) -> Int? {
        let value = readInt(key, default: nil, min: min, max: max, summary: summary, required: false)
        note(key, value.map(JSONValue.int) ?? .null)
        return value
    }

    private mutating func readInt(_ key: String, default fallback: Int?, min: Int?, max: Int?, summary: String, required: Bool) -> Int? {
        let bounds = record(ConfigField(
            name: key, type: "int", defaultValue: fallback.map(JSONValue.int), minimum: min.map(Double.init), maximum: max.map(Double.init),
            summary: summary, isRequired: required)).boundsText
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
        let value = readDouble(key, default: fallback, min: min, max: max, below: below, summary: summary, required: fallback == nil) ?? fallback ?? min ?? 0
        note(key, .double(value))
        return value
    }

    /// A number that may be left out (nil).
    public mutating func optionalDouble(
        _ key: String, min: Double? = nil, max: Double? = nil, below: Double? = nil, summary: String
    ) -> Double? {
        let value = readDouble(key, default: nil, min: min, max: max, below: below, summary: summary, required: false)
        note(key, value.map(JSONValue.double) ?? .null)
        return value
    }

    private mutating func readDouble(
        _ key: String, default fallback: Double?, min: Double?, max: Double?, below: Double?, summary: String, required: Bool
    ) -> Double? {
        let bounds = record(ConfigField(
            name: key, type: "float", defaultValue: fallback.map(JSONValue.double), minimum: min, maximum: max, below: below,
            summary: summary, isRequired: required)).boundsText
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
        let value = readBool(key, default: fallback, summary: summary)
        note(key, .bool(value))
        return value
    }

    private mutating func readBool(_ key: String, default fallback: Bool?, summary: String) -> Bool {
        record(ConfigField(name: key, type: "bool", defaultValue: fallback.map(JSONValue.bool), summary: summary, isRequired: fallback == nil))
        guard let (input, location) = input(for: key) else { return fallback ?? false }
        switch input {
        case .text(let text, isPlain: true):
            if let value = BoolSpelling.yaml.parse(text) { return value }
        case .value(.bool(let value), _):
            return value
        default:
            break
        }
        problem(key, at: location, "expected \(BoolSpelling.yaml.accepted), found \(input.description)")
        return fallback ?? false
    }

    /// Text; with no default the field is required.
    public mutating func string(_ key: String, default fallback: String?, allowed: [String]? = nil, summary: String) -> String {
        let value = readString(key, default: fallback, allowed: allowed, summary: summary, required: fallback == nil) ?? fallback ?? ""
        note(key, .string(value))
        return value
    }

    /// Text that may be left out (nil).
    public mutating func optionalString(_ key: String, allowed: [String]? = nil, summary: String) -> String? {
        let value = readString(key, default: nil, allowed: allowed, summary: summary, required: false)
        note(key, value.map(JSONValue.string) ?? .null)
        return value
    }

    private mutating func readString(_ key: String, default fallback: String?, allowed: [String]?, summary: String, required: Bool) -> String? {
        record(ConfigField(
            name: key, type: "string", defaultValue: fallback.map(JSONValue.string), allowedValues: allowed, summary: summary, isRequired: required))
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
        let value = readStringList(key, default: fallback, allowed: allowed, summary: summary)
        note(key, .array(value.map(JSONValue.string)))
        return value
    }

    private mutating func readStringList(_ key: String, default fallback: [String]?, allowed: [String]?, summary: String) -> [String] {
        record(ConfigField(
            name: key, type: "list of strings", defaultValue: fallback.map { .array($0.map(JSONValue.string)) }, allowedValues: allowed,
            summary: summary, isRequired: fallback == nil))
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
        record(ConfigField(name: key, type: "mapping of strings", summary: summary, isRequired: false))
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
        note(key, .object(JSONObject(pairs.map { ($0.key, JSONValue.string($0.value)) })))
        return pairs
    }

    /// The file the stage's mapping was read from, as the loader was given it; nil
    /// while describing. A stage that names files resolves them against its folder.
    public var file: String? { node?.location.file }

    /// The field's node as written, for settings with a shape of their own
    /// (a list of mappings); the caller reads and checks it.
    public mutating func node(_ key: String, type: String, summary: String) -> ConfigNode? {
        record(ConfigField(name: key, type: type, summary: summary, isRequired: false))
        guard let field = entry(for: key), !field.value.isNull else {
            note(key, .null)
            return nil
        }
        // As written: the caller resolves what it reads from the node.
        note(key, field.value.jsonValue)
        return field.value
    }

    /// A mapping of settings of its own (the host config's `limits`), read by `body`
    /// through a reader over it; its problems carry their full field path.
    public mutating func nested(_ key: String, summary: String, _ body: (inout ConfigReader) -> Void) {
        record(ConfigField(name: key, type: "mapping", summary: summary, isRequired: false))
        guard let field = entry(for: key), !field.value.isNull else { return }
        guard field.value.entries != nil else {
            problem(key, at: field.value.location, "expected a mapping of settings, found \(field.value.kindDescription)")
            return
        }
        var reader = ConfigReader(node: field.value, stageType: stageType, fieldPrefix: path(key), values: values, subject: "'\(key)'")
        body(&reader)
        reader.finish()
        diagnostics += reader.diagnostics
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

    /// Notes that the field was asked for; the first description of a key is the one listed.
    @discardableResult
    private mutating func record(_ field: ConfigField) -> ConfigField {
        readKeys.insert(field.name)
        if !fields.contains(where: { $0.name == field.name }) {
            fields.append(field)
        }
        return field
    }

    private mutating func note(_ key: String, _ value: JSONValue) {
        guard !isDescribing else { return }
        settings[key] = value
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
