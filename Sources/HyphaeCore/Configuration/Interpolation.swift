/// A `${...}` reference inside a YAML scalar.
public enum Reference: Sendable, Hashable {
    /// `${name}`: a pipeline param.
    case param(String)
    /// `${env:NAME}` or `${env:NAME:-default}`: the host's environment.
    case environment(String, default: String?)
}

/// A scalar split into literal text and references, e.g. `run-${seed}` or `${env:RATE:-10}`.
public struct InterpolatedText: Sendable, Hashable {
    public enum Part: Sendable, Hashable {
        case literal(String)
        case reference(Reference)
    }

    public var parts: [Part]

    /// The single reference when the scalar is nothing but one; it then takes the
    /// type of what it refers to (`${grid_size}` is an integer, not text).
    public var soleReference: Reference? {
        if parts.count == 1, case .reference(let reference) = parts[0] { return reference }
        return nil
    }

    public var references: [Reference] {
        parts.compactMap { part in
            if case .reference(let reference) = part { return reference }
            return nil
        }
    }

    public var hasReferences: Bool { !references.isEmpty }

    /// Splits `text`; `$${` stands for a literal `${`.
    public static func parse(_ text: String) -> Result<InterpolatedText, InterpolationError> {
        guard text.contains("${") else { return .success(InterpolatedText(parts: [.literal(text)])) }
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            if rest[..<start.lowerBound].hasSuffix("$") {
                literal += rest[..<rest.index(before: start.lowerBound)] + "${"
                rest = rest[start.upperBound...]
                continue
            }
            literal += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                return .failure(.unterminated(text))
            }
            let body = String(rest[start.upperBound..<end])
            switch reference(from: body) {
            case .success(let reference):
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                parts.append(.reference(reference))
            case .failure(let error):
                return .failure(error)
            }
            rest = rest[rest.index(after: end)...]
        }
        literal += rest
        if !literal.isEmpty || parts.isEmpty { parts.append(.literal(literal)) }
        return .success(InterpolatedText(parts: parts))
    }

    private static func reference(from body: String) -> Result<Reference, InterpolationError> {
        if body.hasPrefix("env:") {
            let spec = body.dropFirst(4)
            let name: Substring
            var fallback: String?
            if let separator = spec.range(of: ":-") {
                name = spec[..<separator.lowerBound]
                fallback = String(spec[separator.upperBound...])
            } else {
                name = spec
            }
            guard isIdentifier(name) else { return .failure(.badName(String(body))) }
            return .success(.environment(String(name), default: fallback))
        }
        guard isIdentifier(Substring(body)) else { return .failure(.badName(body)) }
        return .success(.param(body))
    }

    static func isIdentifier(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
    }
}

public enum InterpolationError: Error, Sendable, Hashable, CustomStringConvertible {
    case unterminated(String)
    case badName(String)

    public var description: String {
        switch self {
        case .unterminated(let text):
            "'\(text)' opens '${' without a closing '}'; write '$${' for a literal '${'"
        case .badName(let body):
            "'${\(body)}' is not a reference: use ${param_name}, ${env:NAME} or ${env:NAME:-default}"
        }
    }
}

/// What `${...}` references resolve to while a stage's configuration is read.
public struct ReferenceValues: Sendable {
    /// Every declared param with the value it has here: its default while a file
    /// is validated, or what a subscriber set.
    public var params: [String: JSONValue]
    /// Names of the params a subscriber set, to say where a bad value came from.
    public var setBySubscriber: Set<String>
    public var environment: [String: String]

    public init(params: [String: JSONValue], setBySubscriber: Set<String> = [], environment: [String: String]) {
        self.params = params
        self.setBySubscriber = setBySubscriber
        self.environment = environment
    }
}
