/// A place in a pipeline file, 1-based as editors count.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One problem found in a pipeline file, worded like a compiler's:
/// `pipelines/demo.yaml:12:11: error: transforms[0].type: unknown stage type 'sampel'; did you mean 'sample'?`
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    public var severity: Severity
    public var location: SourceLocation?
    /// The field the problem is in, as a path from the top of the file: `source.grid_size`.
    public var field: String?
    public var message: String

    public init(_ severity: Severity = .error, at location: SourceLocation?, field: String?, _ message: String) {
        self.severity = severity
        self.location = location
        self.field = field
        self.message = message
    }

    public static func error(at location: SourceLocation?, field: String?, _ message: String) -> Diagnostic {
        Diagnostic(.error, at: location, field: field, message)
    }

    public static func warning(at location: SourceLocation?, field: String?, _ message: String) -> Diagnostic {
        Diagnostic(.warning, at: location, field: field, message)
    }

    public var isError: Bool { severity == .error }

    /// The message without the location: `transforms[0].type: unknown stage type ...`.
    public var summary: String {
        if let field, !field.isEmpty { return "\(field): \(message)" }
        return message
    }

    public var description: String {
        let place = location.map { "\($0): " } ?? ""
        return "\(place)\(severity.rawValue): \(summary)"
    }
}

extension Array where Element == Diagnostic {
    public var hasErrors: Bool { contains(where: \.isError) }

    /// In file order, so a reader can walk the file top to bottom.
    public func sortedByLocation() -> [Diagnostic] {
        enumerated().sorted { lhs, rhs in
            switch (lhs.element.location, rhs.element.location) {
            case let (left?, right?) where left != right: left < right
            case (nil, _?): false
            case (_?, nil): true
            default: lhs.offset < rhs.offset
            }
        }.map(\.element)
    }
}
