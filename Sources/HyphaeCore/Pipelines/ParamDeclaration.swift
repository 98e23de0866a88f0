import Foundation

/// A value a subscriber may set for a pipeline, with its type, default and bounds.
public struct ParamDeclaration: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case int
        case float
        case bool
        case string
        case list
    }

    public var name: String
    public var kind: Kind
    /// For `list`: the kind of each item (`string` unless the file says otherwise).
    public var itemKind: Kind
    public var defaultValue: JSONValue
    public var minimum: Double?
    public var maximum: Double?
    /// The values allowed (for a list: for each item); nil allows any of the right type.
    public var allowed: [JSONValue]?
    public var summary: String?

    public init(
        name: String, kind: Kind, itemKind: Kind = .string, defaultValue: JSONValue,
        minimum: Double? = nil, maximum: Double? = nil, allowed: [JSONValue]? = nil, summary: String? = nil
    ) {
        self.name = name
        self.kind = kind
        self.itemKind = itemKind
        self.defaultValue = defaultValue
        self.minimum = minimum
        self.maximum = maximum
        self.allowed = allowed
        self.summary = summary
    }

    /// Checks a value against the declaration and returns it in canonical form
    /// (an integral `32.0` for an int param becomes `32`; an int for a float param, a float).
    /// The error message says what was expected and what was found.
    public func check(_ value: JSONValue) -> Result<JSONValue, ParamError> {
        switch kind {
        case .list:
            guard let items = value.arrayValue else {
                return .failure(ParamError(param: name, "expected a list of \(itemKind.plural), found \(value.typeDescription)"))
            }
            var checked: [JSONValue] = []
            checked.reserveCapacity(items.count)
            for item in items {
                switch checkScalar(item, as: itemKind) {
                case .success(let value): checked.append(value)
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.array(checked))
        default:
            return checkScalar(value, as: kind)
        }
    }

    private func checkScalar(_ value: JSONValue, as kind: Kind) -> Result<JSONValue, ParamError> {
        let canonical: JSONValue
        switch (kind, value) {
        case (.int, .int): canonical = value
        case (.int, .double(let number)) where number == number.rounded() && abs(number) < 9e15: canonical = .int(Int(number))
        case (.float, .int(let number)): canonical = .double(Double(number))
        case (.float, .double(let number)) where number.isFinite: canonical = value
        case (.bool, .bool), (.string, .string): canonical = value
        default:
            return .failure(ParamError(param: name, "expected \(expectation(for: kind)), found \(value.jsonText)"))
        }
        if let number = canonical.numberValue,
            (minimum.map { number < $0 } ?? false) || (maximum.map { number > $0 } ?? false)
        {
            return .failure(ParamError(param: name, "expected \(expectation(for: kind)), found \(value.jsonText)"))
        }
        if let allowed, !allowed.contains(where: { Self.sameValue($0, canonical) }) {
            let names = allowed.map(\.jsonText).joined(separator: ", ")
            let hint = canonical.stringValue.map { Suggestions.didYouMean($0, in: allowed.compactMap(\.stringValue)) } ?? ""
            return .failure(ParamError(param: name, "expected one of \(names), found \(value.jsonText)\(hint)"))
        }
        return .success(canonical)
    }

    private static func sameValue(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        if let left = lhs.numberValue, let right = rhs.numberValue { return left == right }
        return lhs == rhs
    }

    /// "an integer from 8 to 256", "a number of at least 0", "true or false".
    func expectation(for kind: Kind) -> String {
        let bounds = ConfigReader.boundsText(
            min: minimum.map(ConfigReader.format), max: maximum.map(ConfigReader.format), below: nil)
        let suffix = bounds.map { " " + $0 } ?? ""
        switch kind {
        case .int: return "an integer" + suffix
        case .float: return "a number" + suffix
        case .bool: return "true or false"
        case .string: return "a string"
        case .list: return "a list of \(itemKind.plural)"
        }
    }

    /// How `hyphae stages` and `GET /pipelines` show the declaration.
    public var descriptionJSON: JSONValue {
        var object = JSONObject()
        object.append("type", .string(kind.rawValue))
        if kind == .list { object.append("items", .string(itemKind.rawValue)) }
        object.append("default", defaultValue)
        if let minimum { object.append("min", Self.boundJSON(minimum, kind: kind)) }
        if let maximum { object.append("max", Self.boundJSON(maximum, kind: kind)) }
        if let allowed { object.append("allowed", .array(allowed)) }
        if let summary { object.append("description", .string(summary)) }
        return .object(object)
    }

    /// The largest magnitude an int bound may have: 2^53, past which a double no longer
    /// holds every integer.
    public static let largestExactInteger: Double = 9_007_199_254_740_992

    /// A bound as JSON: an integer for an int param, whenever it is one exactly.
    private static func boundJSON(_ bound: Double, kind: Kind) -> JSONValue {
        guard kind == .int, let whole = Int(exactly: bound) else { return .double(bound) }
        return .int(whole)
    }
}

extension ParamDeclaration.Kind {
    var plural: String {
        switch self {
        case .int: "integers"
        case .float: "numbers"
        case .bool: "booleans"
        case .string: "strings"
        case .list: "lists"
        }
    }
}

/// A subscriber's param that does not fit its declaration.
public struct ParamError: Error, Sendable, Equatable, CustomStringConvertible {
    public var param: String?
    public var message: String

    public init(param: String?, _ message: String) {
        self.param = param
        self.message = message
    }

    public var description: String {
        param.map { "param '\($0)': \(message)" } ?? message
    }
}

/// Every param of a pipeline with the value it has for one subscription, in declaration order.
public struct ResolvedParams: Sendable, Hashable {
    public var values: JSONObject
    /// The params the subscriber set; the others have their defaults and follow
    /// the pipeline's defaults when it is reloaded.
    public var setBySubscriber: Set<String>

    public init(values: JSONObject, setBySubscriber: Set<String>) {
        self.values = values
        self.setBySubscriber = setBySubscriber
    }

    /// Only the values decide which instance a subscriber shares.
    public static func == (lhs: ResolvedParams, rhs: ResolvedParams) -> Bool {
        lhs.values == rhs.values
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(values)
    }
}

extension ParamDeclaration {
    /// A value typed on a command line (`--param grid_size=32`), read by the param's type:
    /// `32`, `0.2`, `true`, `text`, and for lists `a,b,c` or a JSON array.
    public func value(fromCommandLine text: String) -> Result<JSONValue, ParamError> {
        let raw: JSONValue
        switch kind {
        case .int:
            guard let number = Int(text) else { return .failure(ParamError(param: name, "expected \(expectation(for: .int)), found '\(text)'")) }
            raw = .int(number)
        case .float:
            guard let number = Double(text) else { return .failure(ParamError(param: name, "expected \(expectation(for: .float)), found '\(text)'")) }
            raw = .double(number)
        case .bool:
            guard let flag = BoolSpelling.flag.parse(text) else {
                return .failure(ParamError(param: name, "expected \(BoolSpelling.flag.accepted), found '\(text)'"))
            }
            raw = .bool(flag)
        case .string:
            raw = .string(text)
        case .list:
            if text.hasPrefix("["), let parsed = try? JSONParser.parse(text) {
                raw = parsed
            } else if text.isEmpty {
                raw = .array([])
            } else {
                let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                let itemDeclaration = ParamDeclaration(name: name, kind: itemKind, defaultValue: .null)
                var values: [JSONValue] = []
                for item in items {
                    switch itemDeclaration.value(fromCommandLine: item) {
                    case .success(let value): values.append(value)
                    case .failure(let error): return .failure(error)
                    }
                }
                raw = .array(values)
            }
        }
        return check(raw)
    }
}
