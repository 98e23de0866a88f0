import HyphaeCore

/// A pipeline as boxes and arrows: each stage with its settings as they resolve for
/// one set of params, the source into the transforms in order, the last of them into
/// every sink. What `hyphae graph` writes out as Mermaid or DOT.
struct PipelineGraph: Sendable {
    struct Node: Sendable, Equatable {
        /// Letters, digits and `_` only, so that no format needs to quote it.
        var id: String
        /// `ticker (source)`.
        var title: String
        /// `rate: 10`, one per setting that has a value.
        var lines: [String]
    }

    var name: String
    /// The comment lines above the graph: the file, its version, the params.
    var header: [String]
    var nodes: [Node]
    var edges: [(from: String, to: String)]

    init(_ definition: PipelineDefinition, configuration: PipelineConfiguration) {
        name = definition.name
        let params = configuration.params
        let paramText = params.values.map { member in
            "\(member.key) = \(Self.text(member.value))" + (params.setBySubscriber.contains(member.key) ? " (--param)" : "")
        }
        header = ["\(definition.name): \(definition.file), version \(definition.version)"]
            + (paramText.isEmpty ? [] : ["params: " + paramText.joined(separator: ", ")])
        let source = Self.node(configuration.source, id: "source")
        let transforms = configuration.transforms.enumerated().map { Self.node($0.element, id: "transform_\($0.offset)") }
        let sinks = configuration.sinks.enumerated().map { Self.node($0.element, id: "sink_\($0.offset)") }
        nodes = [source] + transforms + sinks
        let chain = [source] + transforms
        edges = zip(chain, chain.dropFirst()).map { ($0.id, $1.id) }
        if let last = chain.last {
            edges += sinks.map { (last.id, $0.id) }
        }
    }

    private static func node(_ stage: ConfiguredStage, id: String) -> Node {
        let lines = stage.settings.compactMap { member -> String? in
            member.value == .null ? nil : "\(member.key): \(text(member.value))"
        }
        return Node(id: id, title: "\(stage.descriptor.type) (\(stage.descriptor.kind.rawValue))", lines: lines)
    }

    /// A value as a pipeline file would write it: `10`, `0.18`, `tick`, `[a, b]`;
    /// cut short past 80 characters so that a box stays readable.
    static func text(_ value: JSONValue) -> String {
        let full: String
        switch value {
        case .string(let string): full = string
        case .double(let number) where number == number.rounded() && abs(number) < 1e15: full = String(Int(number))
        case .array(let items): full = "[" + items.map(text).joined(separator: ", ") + "]"
        default: full = value.jsonText
        }
        let oneLine = full.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
        return oneLine.count > 80 ? oneLine.prefix(79) + "…" : oneLine
    }
}

/// Writes a graph in one text format.
protocol GraphWriter {
    func write(_ graph: PipelineGraph) -> String
}

/// Mermaid's flowchart, which GitHub and most Markdown viewers draw.
struct MermaidWriter: GraphWriter {
    func write(_ graph: PipelineGraph) -> String {
        var lines = graph.header.map { "%% " + $0 }
        lines.append("flowchart LR")
        for node in graph.nodes {
            let label = ([node.title] + node.lines).map(Self.escaped).joined(separator: "<br/>")
            lines.append("    \(node.id)[\"\(label)\"]")
        }
        for edge in graph.edges {
            lines.append("    \(edge.from) --> \(edge.to)")
        }
        return lines.joined(separator: "\n")
    }

    /// Mermaid reads a label as HTML between double quotes, which no backslash
    /// escapes: its own entity codes stand in for the characters that would end the
    /// label or open a tag.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\"": result += "#quot;"
            case "#": result += "#35;"
            case "<": result += "#lt;"
            case ">": result += "#gt;"
            case "&": result += "#amp;"
            default: result.append(character)
            }
        }
        return result
    }
}

/// Graphviz's DOT, for `dot -Tsvg`.
struct DOTWriter: GraphWriter {
    func write(_ graph: PipelineGraph) -> String {
        var lines = graph.header.map { "// " + $0 }
        lines.append("digraph \(Self.quoted(graph.name)) {")
        lines.append("    rankdir=LR;")
        lines.append("    node [shape=box];")
        for node in graph.nodes {
            // `\l` ends a line aligned left; the title stays centred above.
            let settings = node.lines.map { Self.escaped($0) + "\\l" }.joined()
            lines.append("    \(node.id) [label=\"\(Self.escaped(node.title))\\n\(settings)\"];")
        }
        for edge in graph.edges {
            lines.append("    \(edge.from) -> \(edge.to);")
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }

    static func quoted(_ text: String) -> String {
        "\"\(escaped(text))\""
    }

    /// Inside a DOT string only `"` ends it, and a backslash starts an escape
    /// (`\n`, `\l`); both are escaped with a backslash of their own.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            default: result.append(character)
            }
        }
        return result
    }
}
