import Foundation

/// What loading one pipeline file gave: the pipeline when it is valid, and every
/// problem found (warnings can come with a valid pipeline).
public struct PipelineFileResult: Sendable {
    public var file: String
    public var pipeline: PipelineDefinition?
    public var diagnostics: [Diagnostic]

    public var isValid: Bool { pipeline != nil && !diagnostics.hasErrors }

    public init(file: String, pipeline: PipelineDefinition?, diagnostics: [Diagnostic]) {
        self.file = file
        self.pipeline = pipeline
        self.diagnostics = diagnostics
    }
}

/// Reads and validates pipeline files against the registered stage types.
public struct PipelineLoader: Sendable {
    public static let topLevelFields = ["name", "description", "params", "sharing", "max_instances", "source", "transforms", "sinks"]
    static let paramFields = ["type", "default", "min", "max", "allowed", "items", "description"]

    public var registry: StageRegistry
    public var environment: [String: String]

    public init(registry: StageRegistry, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.registry = registry
        self.environment = environment
    }

    /// Loads one file from disk.
    public func load(file path: String) -> PipelineFileResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            return PipelineFileResult(file: path, pipeline: nil, diagnostics: [
                .error(at: nil, field: nil, "\(path): cannot read the file; check that it exists and is readable")
            ])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return PipelineFileResult(file: path, pipeline: nil, diagnostics: [
                .error(at: SourceLocation(file: path, line: 1, column: 1), field: nil, "the file is not UTF-8 text")
            ])
        }
        return load(text: text, file: path)
    }

    /// Loads a pipeline from YAML text; `file` is the name errors carry.
    public func load(text: String, file: String) -> PipelineFileResult {
        switch YAMLDocument.parse(text, file: file) {
        case .failure(let diagnostic):
            return PipelineFileResult(file: file, pipeline: nil, diagnostics: [diagnostic])
        case .success(let root):
            var reading = PipelineFileReader(loader: self, file: file, root: root)
            let pipeline = reading.read(version: Self.version(of: text))
            let diagnostics = reading.diagnostics.sortedByLocation()
            return PipelineFileResult(file: file, pipeline: diagnostics.hasErrors ? nil : pipeline, diagnostics: diagnostics)
        }
    }

    /// A short hash of a file's text: equal texts, equal versions.
    public static func version(of text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Walks one file's top-level mapping, collecting every problem on the way.
private struct PipelineFileReader {
    let loader: PipelineLoader
    let file: String
    let root: ConfigNode
    var diagnostics: [Diagnostic] = []

    init(loader: PipelineLoader, file: String, root: ConfigNode) {
        self.loader = loader
        self.file = file
        self.root = root
    }

    mutating func error(_ location: SourceLocation?, _ field: String?, _ message: String) {
        diagnostics.append(.error(at: location, field: field, message))
    }

    mutating func read(version: String) -> PipelineDefinition? {
        guard let entries = root.entries else {
            error(root.location, nil, "expected a mapping with 'name', 'source' and 'sinks' at the top of the file, found \(root.kindDescription)")
            return nil
        }
        for entry in entries where !PipelineLoader.topLevelFields.contains(entry.key) {
            let hint = Suggestions.didYouMean(entry.key, in: PipelineLoader.topLevelFields)
            error(entry.keyLocation, entry.key, "unknown field '\(entry.key)'" + (hint.isEmpty ? " (known fields: \(PipelineLoader.topLevelFields.joined(separator: ", ")))" : hint))
        }

        let name = readName()
        let summary = plainString("description") ?? ""
        let sharing = readSharing()
        let maxInstances = readMaxInstances()
        let params = readParams()
        let values = ReferenceValues(
            params: Dictionary(params.map { ($0.name, $0.defaultValue) }, uniquingKeysWith: { first, _ in first }),
            environment: loader.environment
        )
        var usedParams: Set<String> = []
        let source = readStage(root["source"], field: "source", kind: .source, values: values, used: &usedParams)
        if root["source"] == nil { error(root.location, "source", "missing required field 'source' (the stage that produces frames)") }
        let transforms = readStageList("transforms", kind: .transform, required: false, values: values, used: &usedParams)
        let sinks = readStageList("sinks", kind: .sink, required: true, values: values, used: &usedParams)

        for param in params where !usedParams.contains(param.name) {
            let location = root["params"]?.value[param.name]?.keyLocation
            diagnostics.append(.warning(at: location, field: "params.\(param.name)", "param '\(param.name)' is declared but no stage uses it"))
        }
        checkDistinctPaths(sinks)

        guard let name, let source else { return nil }
        let pipeline = PipelineDefinition(
            name: name, summary: summary, params: params, sharing: sharing, maxInstances: maxInstances,
            source: source, transforms: transforms, sinks: sinks, file: file,
            nameLocation: root["name"]?.value.location ?? root.location, version: version,
            environment: loader.environment
        )
        if pipeline.sharesInstances {
            for sink in sinks where (sink.defaultConfiguration as? any EndpointConfiguration)?.requiresOwnInstance == true {
                let location = sink.node["backpressure"]?.value.location ?? sink.node.location
                error(location, "\(sink.fieldPath).backpressure", "'block' lets one subscriber hold the source back, so it needs a run per subscriber; set 'sharing: per_subscriber' or choose another policy")
            }
        }
        return pipeline
    }

    private mutating func plainString(_ key: String) -> String? {
        guard let entry = root[key], !entry.value.isNull else { return nil }
        guard let text = entry.value.scalarText else {
            error(entry.value.location, key, "expected text, found \(entry.value.kindDescription)")
            return nil
        }
        return text
    }

    private mutating func readName() -> String? {
        guard let entry = root["name"] else {
            error(root.location, "name", "missing required field 'name' (the pipeline's name, which clients use as stream_type)")
            return nil
        }
        // An empty `name:` (or `~`) is a name missing, not an optional field left out.
        guard !entry.value.isNull else {
            error(entry.value.location, "name", "expected a name of 1 to 64 letters, digits, '_' or '-', found nothing")
            return nil
        }
        guard let name = plainString("name") else { return nil }
        let location = entry.value.location
        guard PipelineDefinition.isValidName(name) else {
            error(location, "name", "expected a name of 1 to 64 letters, digits, '_' or '-', found '\(name)'")
            return nil
        }
        return name
    }

    private mutating func readSharing() -> Sharing {
        guard let text = plainString("sharing"), let location = root["sharing"]?.value.location else { return .auto }
        guard let sharing = Sharing(rawValue: text) else {
            let names = Sharing.allCases.map(\.rawValue)
            error(location, "sharing", "expected one of \(names.map { "'\($0)'" }.joined(separator: ", ")), found '\(text)'\(Suggestions.didYouMean(text, in: names))")
            return .auto
        }
        return sharing
    }

    private mutating func readMaxInstances() -> Int? {
        guard let text = plainString("max_instances"), let location = root["max_instances"]?.value.location else { return nil }
        guard let count = Int(text), count >= 1 else {
            error(location, "max_instances", "expected an integer of at least 1, found '\(text)'")
            return nil
        }
        return count
    }

    // MARK: Params

    private mutating func readParams() -> [ParamDeclaration] {
        guard let entry = root["params"], !entry.value.isNull else { return [] }
        guard let entries = entry.value.entries else {
            error(entry.value.location, "params", "expected a mapping of param names to declarations, found \(entry.value.kindDescription)")
            return []
        }
        return entries.compactMap { readParam($0) }
    }

    private mutating func readParam(_ entry: ConfigEntry) -> ParamDeclaration? {
        let field = "params.\(entry.key)"
        guard InterpolatedText.isIdentifier(Substring(entry.key)) else {
            error(entry.keyLocation, field, "a param name must be letters, digits and '_', starting with a letter, found '\(entry.key)'")
            return nil
        }
        guard let members = entry.value.entries else {
            error(entry.value.location, field, "expected a declaration such as { type: int, default: 1, min: 0 }, found \(entry.value.kindDescription)")
            return nil
        }
        for member in members where !PipelineLoader.paramFields.contains(member.key) {
            error(member.keyLocation, "\(field).\(member.key)", "unknown field '\(member.key)' in a param declaration\(Suggestions.didYouMean(member.key, in: PipelineLoader.paramFields))")
        }
        let kinds = ParamDeclaration.Kind.allCases.map(\.rawValue)
        guard let typeEntry = entry.value["type"], let typeName = typeEntry.value.scalarText else {
            error(entry.value.location, "\(field).type", "missing required field 'type' (one of \(kinds.joined(separator: ", ")))")
            return nil
        }
        guard let kind = ParamDeclaration.Kind(rawValue: typeName) else {
            error(typeEntry.value.location, "\(field).type", "expected one of \(kinds.joined(separator: ", ")), found '\(typeName)'\(Suggestions.didYouMean(typeName, in: kinds))")
            return nil
        }
        var itemKind = ParamDeclaration.Kind.string
        if let items = entry.value["items"] {
            if kind != .list {
                error(items.keyLocation, "\(field).items", "'items' applies only to params of type list")
            } else if let text = items.value.scalarText, let parsed = ParamDeclaration.Kind(rawValue: text), parsed != .list {
                itemKind = parsed
            } else {
                error(items.value.location, "\(field).items", "expected int, float, bool or string, found \(items.value.kindDescription)")
            }
        }
        let minimum = bound("min", of: entry, kind: kind)
        let maximum = bound("max", of: entry, kind: kind)
        if let minimum, let maximum, minimum > maximum, let location = entry.value["min"]?.value.location {
            error(location, "\(field).min", "min (\(ConfigReader.format(minimum))) is above max (\(ConfigReader.format(maximum)))")
        }
        var declaration = ParamDeclaration(name: entry.key, kind: kind, itemKind: itemKind, defaultValue: .null, minimum: minimum, maximum: maximum)
        declaration.summary = entry.value["description"]?.value.scalarText
        if let allowed = entry.value["allowed"] {
            if let elements = allowed.value.elements, !elements.isEmpty {
                let elementKind = kind == .list ? itemKind : kind
                declaration.allowed = elements.compactMap { element in
                    scalarValue(element, as: elementKind, field: "\(field).allowed")
                }
            } else {
                error(allowed.value.location, "\(field).allowed", "expected a non-empty list of values, found \(allowed.value.kindDescription)")
            }
        }
        guard let defaultEntry = entry.value["default"], !defaultEntry.value.isNull else {
            error(entry.value.location, "\(field).default", "missing required field 'default' (the value subscribers get when they do not set '\(entry.key)')")
            return nil
        }
        guard let rawDefault = nodeValue(defaultEntry.value, as: kind, itemKind: itemKind, field: "\(field).default") else { return nil }
        switch declaration.check(rawDefault) {
        case .success(let value):
            declaration.defaultValue = value
        case .failure(let problem):
            error(defaultEntry.value.location, "\(field).default", "the default does not fit the declaration: \(problem.message)")
            return nil
        }
        return declaration
    }

    private mutating func bound(_ key: String, of entry: ConfigEntry, kind: ParamDeclaration.Kind) -> Double? {
        guard let member = entry.value[key] else { return nil }
        let field = "params.\(entry.key).\(key)"
        guard kind == .int || kind == .float else {
            error(member.keyLocation, field, "'\(key)' applies only to params of type int or float")
            return nil
        }
        guard let text = member.value.scalarText, let number = Double(text), number.isFinite else {
            error(member.value.location, field, "expected a number, found \(member.value.kindDescription)")
            return nil
        }
        if kind == .int {
            guard number == number.rounded() else {
                error(member.value.location, field, "expected an integer for an int param, found '\(text)'")
                return nil
            }
            // Beyond 2^53 a bound no longer names one integer, and could not be used as one.
            // The text is checked as well: 2^53 + 1 reads as the double 2^53.
            let exact = Int(text).map { $0.magnitude <= UInt(ParamDeclaration.largestExactInteger) } ?? true
            guard exact, abs(number) <= ParamDeclaration.largestExactInteger else {
                error(member.value.location, field, "an int bound must lie within ±\(Int(ParamDeclaration.largestExactInteger)), found '\(text)'")
                return nil
            }
        }
        return number
    }

    /// A YAML node as a param value, typed by the declaration.
    private mutating func nodeValue(_ node: ConfigNode, as kind: ParamDeclaration.Kind, itemKind: ParamDeclaration.Kind, field: String) -> JSONValue? {
        guard kind == .list else { return scalarValue(node, as: kind, field: field) }
        guard let elements = node.elements else {
            error(node.location, field, "expected a list, found \(node.kindDescription)")
            return nil
        }
        var values: [JSONValue] = []
        for element in elements {
            guard let value = scalarValue(element, as: itemKind, field: field) else { return nil }
            values.append(value)
        }
        return .array(values)
    }

    private mutating func scalarValue(_ node: ConfigNode, as kind: ParamDeclaration.Kind, field: String) -> JSONValue? {
        guard case .scalar(var text, var isPlain) = node.content else {
            error(node.location, field, "expected a single value, found \(node.kindDescription)")
            return nil
        }
        if let reference = (try? InterpolatedText.parse(text).get())?.soleReference, case .environment(let name, let fallback) = reference {
            // Declarations are published (GET /pipelines, subscribe_success): the environment
            // may set a number or a switch there, never text, which could be a secret.
            guard kind != .string else {
                error(node.location, field, "a string param's declaration cannot read the environment (${env:\(name)}): declarations are published by GET /pipelines; read the environment in a stage setting instead")
                return nil
            }
            guard let value = loader.environment[name] ?? fallback else {
                error(node.location, field, "environment variable '\(name)' is not set; set it, or give a default with ${env:\(name):-value}")
                return nil
            }
            text = value
            isPlain = true
        }
        let value: JSONValue?
        switch kind {
        case .int: value = isPlain ? Int(text).map(JSONValue.int) : nil
        case .float: value = isPlain ? Double(text).flatMap { $0.isFinite ? JSONValue.double($0) : nil } : nil
        case .bool: value = isPlain ? BoolSpelling.yaml.parse(text).map(JSONValue.bool) : nil
        case .string: value = .string(text)
        case .list: value = nil
        }
        guard let value else {
            error(node.location, field, "expected \(ParamDeclaration(name: "", kind: kind, defaultValue: .null).expectation(for: kind)), found '\(text)'")
            return nil
        }
        return value
    }

    // MARK: Stages

    private mutating func readStageList(
        _ key: String, kind: StageDescriptor.Kind, required: Bool, values: ReferenceValues, used: inout Set<String>
    ) -> [StageSpec] {
        guard let entry = root[key], !entry.value.isNull else {
            if required {
                let example = kind == .sink ? " such as '- type: websocket' with a 'path'" : ""
                error(root.location, key, "missing required field '\(key)' (a list of \(kind.rawValue) stages\(example))")
            }
            return []
        }
        guard let elements = entry.value.elements else {
            error(entry.value.location, key, "expected a list of \(kind.rawValue) stages, each starting with '- type: ...', found \(entry.value.kindDescription)")
            return []
        }
        if required, elements.isEmpty {
            error(entry.value.location, key, "expected at least one \(kind.rawValue) stage")
        }
        return elements.enumerated().compactMap { index, element in
            readStage(ConfigEntry(key: key, keyLocation: entry.keyLocation, value: element), field: "\(key)[\(index)]", kind: kind, values: values, used: &used)
        }
    }

    private mutating func readStage(
        _ entry: ConfigEntry?, field: String, kind: StageDescriptor.Kind, values: ReferenceValues, used: inout Set<String>
    ) -> StageSpec? {
        guard let entry else { return nil }
        let node = entry.value
        guard node.entries != nil else {
            error(node.location, field, "expected a stage mapping starting with 'type:', found \(node.kindDescription)")
            return nil
        }
        guard let typeEntry = node["type"] else {
            let known = loader.registry.types(of: kind).joined(separator: ", ")
            error(node.location, "\(field).type", "missing required field 'type' (a \(kind.rawValue) type: \(known))")
            return nil
        }
        guard let type = typeEntry.value.scalarText else {
            error(typeEntry.value.location, "\(field).type", "expected a stage type name, found \(typeEntry.value.kindDescription)")
            return nil
        }
        guard let descriptor = loader.registry[type], descriptor.kind == kind else {
            let typeLocation = typeEntry.value.location
            if let other = loader.registry[type] {
                error(typeLocation, "\(field).type", "'\(type)' is a \(other.kind.rawValue) stage, not a \(kind.rawValue); it belongs under '\(other.kind == .source ? "source" : other.kind.rawValue + "s")'")
            } else {
                let known = loader.registry.types(of: kind)
                let hint = Suggestions.didYouMean(type, in: known)
                error(typeLocation, "\(field).type", "unknown \(kind.rawValue) type '\(type)'" + (hint.isEmpty ? " (known: \(known.joined(separator: ", ")))" : hint))
            }
            return nil
        }
        var reader = ConfigReader(node: node, stageType: type, fieldPrefix: field, values: values)
        let configuration = descriptor.configuration(from: &reader)
        diagnostics += reader.diagnostics
        used.formUnion(reader.usedParams)
        return StageSpec(descriptor: descriptor, node: node, fieldPath: field, defaultConfiguration: configuration)
    }

    private mutating func checkDistinctPaths(_ sinks: [StageSpec]) {
        var seen: Set<String> = []
        for sink in sinks {
            guard let path = (sink.defaultConfiguration as? any EndpointConfiguration)?.endpointPath else { continue }
            if !seen.insert(path).inserted {
                error(sink.node["path"]?.value.location ?? sink.node.location, "\(sink.fieldPath).path", "the path '\(path)' is served by another sink of this pipeline")
            }
        }
    }
}
