/// A YAML node with the place it was written, so that every error can point at it.
public struct ConfigNode: Sendable {
    public enum Content: Sendable {
        /// A scalar as written; `isPlain` is false for quoted and block scalars, which are always text.
        case scalar(String, isPlain: Bool)
        case mapping([ConfigEntry])
        case sequence([ConfigNode])
    }

    public var content: Content
    public var location: SourceLocation

    public init(_ content: Content, at location: SourceLocation) {
        self.content = content
        self.location = location
    }

    public var entries: [ConfigEntry]? {
        if case .mapping(let entries) = content { return entries }
        return nil
    }

    public var elements: [ConfigNode]? {
        if case .sequence(let elements) = content { return elements }
        return nil
    }

    public var scalarText: String? {
        if case .scalar(let text, _) = content { return text }
        return nil
    }

    /// A plain `~`, `null` or empty scalar, which YAML reads as no value.
    public var isNull: Bool {
        guard case .scalar(let text, true) = content else { return false }
        return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
    }

    public subscript(key: String) -> ConfigEntry? {
        entries?.first { $0.key == key }
    }

    /// The node as JSON, read as YAML 1.2 reads it: a plain scalar is an integer, a
    /// number, `true`/`false` or null when it spells one, and text otherwise; a quoted
    /// or block scalar is always text. References such as `${rate}` are left as text.
    public var jsonValue: JSONValue {
        switch content {
        case .scalar(let text, let isPlain):
            guard isPlain else { return .string(text) }
            if isNull { return .null }
            if let integer = Int(text) { return .int(integer) }
            if let number = Double(text), number.isFinite, text.contains(where: \.isNumber) { return .double(number) }
            if let flag = BoolSpelling.yaml.parse(text) { return .bool(flag) }
            return .string(text)
        case .sequence(let elements):
            return .array(elements.map(\.jsonValue))
        case .mapping(let entries):
            return .object(JSONObject(entries.map { ($0.key, $0.value.jsonValue) }))
        }
    }

    /// What a person would call this node in "expected X, found Y".
    public var kindDescription: String {
        switch content {
        case .scalar(let text, _): isNull ? "nothing" : "'\(text)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }
}

/// One `key: value` pair of a mapping.
public struct ConfigEntry: Sendable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: ConfigNode

    public init(key: String, keyLocation: SourceLocation, value: ConfigNode) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}
