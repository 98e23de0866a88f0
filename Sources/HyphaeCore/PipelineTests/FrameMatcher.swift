/// What a pipeline test expects of one frame. Only what it names is checked: a
/// payload may hold fields the test does not mention.
public struct FrameMatcher: Sendable {
    /// One payload field and what it must be.
    public struct FieldCheck: Sendable {
        /// The path into the payload; a number steps into a list (`field_shape.0`).
        public var path: [String]
        public var matcher: ValueMatcher

        public init(path: [String], matcher: ValueMatcher) {
            self.path = path
            self.matcher = matcher
        }

        public var label: String { "payload." + path.joined(separator: ".") }
    }

    /// Where the test file writes it, for the report.
    public var location: SourceLocation
    /// Its place in the test file, e.g. `cases[0].expect.frames[1]`.
    public var field: String
    /// For `every`: only frames of this message type are checked.
    public var onlyType: String?
    public var type: ValueMatcher?
    public var sequence: ValueMatcher?
    public var essential: Bool?
    public var payload: [FieldCheck]

    public init(
        location: SourceLocation, field: String, onlyType: String? = nil, type: ValueMatcher? = nil, sequence: ValueMatcher? = nil,
        essential: Bool? = nil, payload: [FieldCheck] = []
    ) {
        self.location = location
        self.field = field
        self.onlyType = onlyType
        self.type = type
        self.sequence = sequence
        self.essential = essential
        self.payload = payload
    }

    /// Whether `frame` is one this check is about (`of_type`).
    public func applies(to frame: Frame) -> Bool {
        onlyType.map { $0 == frame.type } ?? true
    }

    /// Each thing checked, expected beside actual, in the order the test wrote them.
    public func compare(_ frame: Frame) -> FrameComparison {
        var lines: [FrameComparison.Line] = []
        if let type {
            let actual = JSONValue.string(frame.type)
            lines.append(.init(label: "type", expected: type.expectationText, actual: type.actualText(actual), matches: type.matches(actual)))
        }
        if let sequence {
            let actual = JSONValue.int(frame.sequence)
            lines.append(.init(label: "sequence", expected: sequence.expectationText, actual: sequence.actualText(actual), matches: sequence.matches(actual)))
        }
        if let essential {
            lines.append(.init(label: "essential", expected: "\(essential)", actual: "\(frame.isEssential)", matches: essential == frame.isEssential))
        }
        for check in payload {
            let actual = Self.value(at: check.path[...], in: .object(frame.payload))
            lines.append(.init(label: check.label, expected: check.matcher.expectationText, actual: check.matcher.actualText(actual), matches: check.matcher.matches(actual)))
        }
        return FrameComparison(lines: lines)
    }

    static func value(at path: ArraySlice<String>, in value: JSONValue) -> JSONValue? {
        guard let key = path.first else { return value }
        let next: JSONValue?
        switch value {
        case .object(let object):
            next = object[key]
        case .array, .numbers:
            guard let index = Int(key), let items = value.arrayValue, items.indices.contains(index) else { return nil }
            next = items[index]
        default:
            next = nil
        }
        return next.flatMap { self.value(at: path.dropFirst(), in: $0) }
    }
}

/// A frame held against a `FrameMatcher`: one line per thing checked.
public struct FrameComparison: Sendable {
    public struct Line: Sendable, Equatable {
        /// `type`, `sequence`, `essential` or `payload.<path>`.
        public var label: String
        public var expected: String
        public var actual: String
        public var matches: Bool
    }

    public var lines: [Line]

    public var matches: Bool { lines.allSatisfy(\.matches) }

    /// As a diff: what matched once, unmarked; what did not as `-` expected and `+` actual.
    public var diffLines: [String] {
        lines.flatMap { line in
            line.matches
                ? ["  \(line.label): \(line.actual)"]
                : ["- \(line.label): \(line.expected)", "+ \(line.label): \(line.actual)"]
        }
    }
}
