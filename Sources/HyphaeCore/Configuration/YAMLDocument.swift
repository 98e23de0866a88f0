import Yams

/// Reads YAML text into `ConfigNode`s, turning the parser's own errors into diagnostics.
///
/// Pipeline files may come from the admin API, so they are input like any other: a
/// file is at most `maximumBytes` long and `maximumNodes` nodes, and anchors and
/// aliases are refused, so that no alias bomb is expanded.
public enum YAMLDocument {
    public static let maximumBytes = 1 << 20
    public static let maximumNodes = 100_000

    /// `whenEmpty` says what a file of nothing but comments and blank lines lacks.
    public static func parse(
        _ text: String, file: String, whenEmpty: String = "the file is empty; a pipeline needs at least 'name', 'source' and 'sinks'"
    ) -> Result<ConfigNode, Diagnostic> {
        guard text.utf8.count <= maximumBytes else {
            return .failure(.error(at: SourceLocation(file: file, line: 1, column: 1), field: nil, "the file is \(text.utf8.count) bytes; a pipeline file may have at most \(maximumBytes)"))
        }
        do {
            guard let root = try Yams.compose(yaml: text) else {
                return .failure(.error(at: SourceLocation(file: file, line: 1, column: 1), field: nil, whenEmpty))
            }
            var walk = Walk()
            return convert(root, file: file, walk: &walk)
        } catch let error as YamlError {
            return .failure(diagnostic(for: error, file: file))
        } catch {
            return .failure(.error(at: SourceLocation(file: file, line: 1, column: 1), field: nil, "cannot read the YAML: \(error)"))
        }
    }

    /// What the conversion has seen. Yams resolves an alias to its anchor's node, mark
    /// included, so a node met twice at the same place is an alias.
    private struct Walk {
        struct Place: Hashable {
            var kind: Int
            var line: Int
            var column: Int
        }

        var seen: Set<Place> = []
        var nodes = 0
    }

    private static func convert(_ node: Node, file: String, walk: inout Walk) -> Result<ConfigNode, Diagnostic> {
        let location = SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        walk.nodes += 1
        guard walk.nodes <= maximumNodes else {
            return .failure(.error(at: location, field: nil, "the file has more than \(maximumNodes) YAML nodes"))
        }
        let kind: Int
        switch node {
        case .scalar: kind = 0
        case .sequence: kind = 1
        case .mapping: kind = 2
        case .alias: kind = 3
        }
        if node.mark != nil, !walk.seen.insert(Walk.Place(kind: kind, line: location.line, column: location.column)).inserted {
            return .failure(.error(at: location, field: nil, "YAML aliases (*name) are not supported in pipeline files; write the value out"))
        }
        switch node {
        case .scalar(let scalar):
            let isPlain = scalar.style == .plain || scalar.style == .any
            return .success(ConfigNode(.scalar(scalar.string, isPlain: isPlain), at: location))
        case .sequence(let sequence):
            var elements: [ConfigNode] = []
            for element in sequence {
                switch convert(element, file: file, walk: &walk) {
                case .success(let converted): elements.append(converted)
                case .failure(let problem): return .failure(problem)
                }
            }
            return .success(ConfigNode(.sequence(elements), at: location))
        case .mapping(let mapping):
            var entries: [ConfigEntry] = []
            for (key, value) in mapping {
                let keyLocation = SourceLocation(file: file, line: key.mark?.line ?? location.line, column: key.mark?.column ?? location.column)
                guard case .scalar(let keyScalar) = key else {
                    return .failure(.error(at: keyLocation, field: nil, "a mapping key must be a plain name, found \(describe(key))"))
                }
                if entries.contains(where: { $0.key == keyScalar.string }) {
                    return .failure(.error(at: keyLocation, field: nil, "the key '\(keyScalar.string)' appears more than once in this mapping; keep one"))
                }
                switch convert(value, file: file, walk: &walk) {
                case .success(let converted):
                    entries.append(ConfigEntry(key: keyScalar.string, keyLocation: keyLocation, value: converted))
                case .failure(let problem):
                    return .failure(problem)
                }
            }
            return .success(ConfigNode(.mapping(entries), at: location))
        case .alias:
            return .failure(.error(at: location, field: nil, "YAML aliases (*name) are not supported in pipeline files; write the value out"))
        }
    }

    private static func describe(_ node: Node) -> String {
        switch node {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    private static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let detail = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
            return .error(at: at(mark), field: nil, "invalid YAML: \(problem)\(detail)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return .error(at: at(context.mark), field: nil, "the key \(names) appears more than once in this mapping; keep one")
        case .reader(let problem, _, _, _):
            return .error(at: SourceLocation(file: file, line: 1, column: 1), field: nil, "cannot read the file as YAML text: \(problem)")
        default:
            return .error(at: SourceLocation(file: file, line: 1, column: 1), field: nil, "invalid YAML: \(error)")
        }
    }
}
