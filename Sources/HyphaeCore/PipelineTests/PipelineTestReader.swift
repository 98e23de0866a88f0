import Foundation

/// Reads a pipeline test file (`ticker.test.yaml`) against the pipeline it tests.
/// Like the pipeline loader, it reports every problem of the file at once, each with
/// its file, line, column and field path, and suggests the nearest known names.
public enum PipelineTestReader {
    public static let topLevelFields = ["cases"]
    public static let caseFields = ["name", "params", "source_frames", "input", "timeout_ms", "expect"]
    public static let expectFields = ["count", "frames", "every", "last", "error"]
    public static let frameCheckFields = ["type", "sequence", "essential", "payload"]
    /// `every` may also pick the frames it checks by their type.
    public static let everyFields = ["of_type"] + frameCheckFields
    public static let inputFrameFields = ["type", "payload", "essential", "timestamp"]
    /// Long enough for a small simulation on a slow machine; short enough that a case
    /// stuck on an endless source fails instead of hanging the run.
    public static let defaultTimeoutMilliseconds = 10_000

    /// Reads the test file at `path`.
    public static func read(file path: String, pipeline: PipelineDefinition) -> PipelineTestFileResult {
        guard let data = FileManager.default.contents(atPath: path) else {
            return PipelineTestFileResult(file: path, suite: nil, diagnostics: [
                .error(at: nil, field: nil, "\(path): cannot read the file; check that it exists and is readable")
            ])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return PipelineTestFileResult(file: path, suite: nil, diagnostics: [
                .error(at: SourceLocation(file: path, line: 1, column: 1), field: nil, "the file is not UTF-8 text")
            ])
        }
        return read(text: text, file: path, pipeline: pipeline)
    }

    /// Reads test cases from YAML text; `file` is the name errors carry.
    public static func read(text: String, file: String, pipeline: PipelineDefinition) -> PipelineTestFileResult {
        switch YAMLDocument.parse(text, file: file, whenEmpty: "the file is empty; a test file needs 'cases', a list of named cases") {
        case .failure(let diagnostic):
            return PipelineTestFileResult(file: file, suite: nil, diagnostics: [diagnostic])
        case .success(let root):
            var reading = TestFileReading(pipeline: pipeline)
            let cases = reading.read(root)
            let diagnostics = reading.diagnostics.sortedByLocation()
            let suite = diagnostics.hasErrors ? nil : PipelineTestSuite(file: file, pipeline: pipeline, cases: cases)
            return PipelineTestFileResult(file: file, suite: suite, diagnostics: diagnostics)
        }
    }
}

/// What reading one test file gave: its cases when it has no errors, and every problem found.
public struct PipelineTestFileResult: Sendable {
    public var file: String
    public var suite: PipelineTestSuite?
    public var diagnostics: [Diagnostic]

    public init(file: String, suite: PipelineTestSuite?, diagnostics: [Diagnostic]) {
        self.file = file
        self.suite = suite
        self.diagnostics = diagnostics
    }
}

/// One pass over a test file's nodes, collecting problems on the way.
private struct TestFileReading {
    let pipeline: PipelineDefinition
    var diagnostics: [Diagnostic] = []

    init(pipeline: PipelineDefinition) {
        self.pipeline = pipeline
    }

    mutating func error(_ node: ConfigNode, _ field: String, _ message: String) {
        diagnostics.append(.error(at: node.location, field: field, message))
    }

    /// Reports the keys of a mapping that are not among `known`.
    mutating func checkKeys(_ entries: [ConfigEntry], known: [String], prefix: String, in subject: String) {
        for entry in entries where !known.contains(entry.key) {
            let hint = Suggestions.didYouMean(entry.key, in: known)
            let message = "unknown field '\(entry.key)' in \(subject)" + (hint.isEmpty ? " (known fields: \(known.joined(separator: ", ")))" : hint)
            diagnostics.append(.error(at: entry.keyLocation, field: join(prefix, entry.key), message))
        }
    }

    func join(_ prefix: String, _ key: String) -> String {
        prefix.isEmpty ? key : "\(prefix).\(key)"
    }

    // MARK: The file and its cases

    mutating func read(_ root: ConfigNode) -> [PipelineTestCase] {
        guard let entries = root.entries else {
            error(root, "", "expected a mapping with 'cases' at the top of the file, found \(root.kindDescription)")
            return []
        }
        checkKeys(entries, known: PipelineTestReader.topLevelFields, prefix: "", in: "a test file")
        guard let casesNode = root["cases"]?.value else {
            error(root, "cases", "missing required field 'cases' (a list of cases, each with a 'name' and an 'expect')")
            return []
        }
        guard let elements = casesNode.elements, !elements.isEmpty else {
            error(casesNode, "cases", "expected a list of at least one case, each starting with '- name: ...', found \(casesNode.kindDescription)")
            return []
        }
        var names: [String: SourceLocation] = [:]
        var cases: [PipelineTestCase] = []
        for (index, element) in elements.enumerated() {
            guard let testCase = readCase(element, field: "cases[\(index)]") else { continue }
            if let first = names[testCase.name] {
                error(element["name"]?.value ?? element, "cases[\(index)].name", "a case named '\(testCase.name)' is already defined at line \(first.line); give each case its own name")
                continue
            }
            names[testCase.name] = testCase.location
            cases.append(testCase)
        }
        return cases
    }

    mutating func readCase(_ node: ConfigNode, field: String) -> PipelineTestCase? {
        guard let entries = node.entries else {
            error(node, field, "expected a case: a mapping with 'name' and 'expect', found \(node.kindDescription)")
            return nil
        }
        let problemsBefore = diagnostics.count
        checkKeys(entries, known: PipelineTestReader.caseFields, prefix: field, in: "a case")
        let name = readName(node, field: field)
        let params = readParams(node["params"]?.value, field: "\(field).params")
        let sourceFrames = node["source_frames"].flatMap { readInt($0.value, field: "\(field).source_frames", min: 1, max: 1_000_000) }
        let inputFrames = node["input"].flatMap { readInputFrames($0.value, field: "\(field).input") }
        if let sourceNode = node["source_frames"]?.value, node["input"] != nil {
            error(sourceNode, "\(field).source_frames", "a case either runs the source ('source_frames') or feeds frames to the transforms ('input'); keep one")
        }
        let timeout = node["timeout_ms"].flatMap { readInt($0.value, field: "\(field).timeout_ms", min: 1, max: 600_000) }
            ?? PipelineTestReader.defaultTimeoutMilliseconds
        var expectation = OutputExpectation()
        if let expect = node["expect"]?.value {
            expectation = readExpectation(expect, field: "\(field).expect")
        } else {
            error(node, "\(field).expect", "missing required field 'expect' (what must come out: count, frames, every, last or error)")
        }
        guard let name, let params else { return nil }
        let input: PipelineTestCase.Input = inputFrames.map { .frames($0) } ?? .source(frames: sourceFrames)
        // Configuring the pipeline is only worth it once the case itself reads well.
        if case .source(nil) = input, diagnostics.count == problemsBefore {
            checkTheSourceEnds(node, field: field, params: params)
        }
        return PipelineTestCase(
            name: name, location: node.location, params: params, input: input,
            timeout: .milliseconds(timeout), expectation: expectation)
    }

    mutating func readName(_ node: ConfigNode, field: String) -> String? {
        guard let nameNode = node["name"]?.value else {
            error(node, "\(field).name", "missing required field 'name' (what the case checks, printed with PASS or FAIL)")
            return nil
        }
        guard let name = nameNode.scalarText, !nameNode.isNull, !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            error(nameNode, "\(field).name", "expected a name for the case, found \(nameNode.kindDescription)")
            return nil
        }
        return name
    }

    /// The case's params, each read by its declaration as `--param` reads it; nil when one is wrong.
    mutating func readParams(_ node: ConfigNode?, field: String) -> JSONObject? {
        guard let node, !node.isNull else { return JSONObject() }
        guard let entries = node.entries else {
            error(node, field, "expected a mapping of param names to values, found \(node.kindDescription)")
            return nil
        }
        var params = JSONObject()
        var valid = true
        for entry in entries {
            guard let declaration = pipeline.param(named: entry.key) else {
                let names = pipeline.params.map(\.name)
                let allowed = names.isEmpty ? "it takes no params" : "allowed: \(names.joined(separator: ", "))"
                diagnostics.append(.error(
                    at: entry.keyLocation, field: join(field, entry.key),
                    "'\(pipeline.name)' has no param '\(entry.key)'\(Suggestions.didYouMean(entry.key, in: names)) (\(allowed))"))
                valid = false
                continue
            }
            switch paramValue(entry.value, declaration: declaration) {
            case .success(let value):
                params[entry.key] = value
            case .failure(let problem):
                error(entry.value, join(field, entry.key), problem.message)
                valid = false
            }
        }
        return valid ? params : nil
    }

    func paramValue(_ node: ConfigNode, declaration: ParamDeclaration) -> Result<JSONValue, ParamError> {
        if let text = node.scalarText {
            return declaration.value(fromCommandLine: text)
        }
        guard declaration.kind == .list, let elements = node.elements else {
            return .failure(ParamError(param: declaration.name, "expected a single value, found \(node.kindDescription)"))
        }
        let item = ParamDeclaration(name: declaration.name, kind: declaration.itemKind, defaultValue: .null)
        var values: [JSONValue] = []
        for element in elements {
            guard let text = element.scalarText else {
                return .failure(ParamError(param: declaration.name, "expected a list of single values, found \(element.kindDescription) in it"))
            }
            switch item.value(fromCommandLine: text) {
            case .success(let value): values.append(value)
            case .failure(let problem): return .failure(problem)
            }
        }
        return declaration.check(.array(values))
    }

    /// A case that runs the source to its end needs a source that has one.
    mutating func checkTheSourceEnds(_ node: ConfigNode, field: String, params: JSONObject) {
        switch pipeline.resolveParams(params).flatMap({ pipeline.configure(with: $0) }) {
        case .failure(let problem):
            error(node["params"]?.value ?? node, "\(field).params", problem.description)
        case .success(let configuration) where !configuration.isFinite:
            error(node, "\(field).source_frames", "the source '\(configuration.source.descriptor.type)' of '\(pipeline.name)' does not end by itself with these params; set 'source_frames: N' to stop it after N frames, or feed frames with 'input'")
        case .success:
            break
        }
    }

    // MARK: Input frames

    mutating func readInputFrames(_ node: ConfigNode, field: String) -> [Frame]? {
        guard let elements = node.elements, !elements.isEmpty else {
            error(node, field, "expected a list of at least one frame, each like '- { type: tick, payload: { count: 1 } }', found \(node.kindDescription)")
            return nil
        }
        var frames: [Frame] = []
        for (index, element) in elements.enumerated() {
            if let frame = readInputFrame(element, field: "\(field)[\(index)]") { frames.append(frame) }
        }
        return frames.count == elements.count ? frames : nil
    }

    mutating func readInputFrame(_ node: ConfigNode, field: String) -> Frame? {
        guard let entries = node.entries else {
            error(node, field, "expected a frame: a mapping with 'type' and 'payload', found \(node.kindDescription)")
            return nil
        }
        checkKeys(entries, known: PipelineTestReader.inputFrameFields, prefix: field, in: "an input frame")
        guard let typeNode = node["type"]?.value, let type = typeNode.scalarText, !typeNode.isNull else {
            error(node["type"]?.value ?? node, "\(field).type", "missing required field 'type' (the frame's message type, e.g. tick)")
            return nil
        }
        var payload = JSONObject()
        if let payloadNode = node["payload"]?.value, !payloadNode.isNull {
            guard case .object(let object) = payloadNode.jsonValue else {
                error(payloadNode, "\(field).payload", "expected a mapping of payload fields, found \(payloadNode.kindDescription)")
                return nil
            }
            payload = object
        }
        let essential = node["essential"].flatMap { readBool($0.value, field: "\(field).essential") } ?? false
        let timestamp = node["timestamp"].flatMap { readNumber($0.value, field: "\(field).timestamp") }
        return Frame(
            type: type, timestamp: timestamp ?? WallClock.nowMilliseconds(), payload: payload,
            delivery: essential ? .essential : .droppable)
    }

    // MARK: Expectations

    mutating func readExpectation(_ node: ConfigNode, field: String) -> OutputExpectation {
        var expectation = OutputExpectation()
        guard let entries = node.entries else {
            error(node, field, "expected a mapping of what must come out (count, frames, every, last, error), found \(node.kindDescription)")
            return expectation
        }
        checkKeys(entries, known: PipelineTestReader.expectFields, prefix: field, in: "'expect'")
        if let count = node["count"]?.value, let matcher = readValueMatcher(count, field: "\(field).count") {
            expectation.count = Located(matcher, at: count.location, field: "\(field).count")
        }
        if let frames = node["frames"]?.value {
            if let elements = frames.elements, !elements.isEmpty {
                expectation.frames = elements.enumerated().compactMap { index, element in
                    readFrameMatcher(element, field: "\(field).frames[\(index)]")
                }
            } else {
                error(frames, "\(field).frames", "expected a list of frames, the first frames in order, found \(frames.kindDescription)")
            }
        }
        expectation.every = node["every"].flatMap { readFrameMatcher($0.value, field: "\(field).every", picksFrames: true) }
        expectation.last = node["last"].flatMap { readFrameMatcher($0.value, field: "\(field).last") }
        if let errorNode = node["error"]?.value {
            if let text = errorNode.scalarText, !errorNode.isNull {
                expectation.error = Located(text, at: errorNode.location, field: "\(field).error")
            } else {
                error(errorNode, "\(field).error", "expected text that the run's error message contains, found \(errorNode.kindDescription)")
            }
        }
        return expectation
    }

    mutating func readFrameMatcher(_ node: ConfigNode, field: String, picksFrames: Bool = false) -> FrameMatcher? {
        guard let entries = node.entries else {
            error(node, field, "expected a frame check: a mapping with type, sequence, essential or payload, found \(node.kindDescription)")
            return nil
        }
        if !picksFrames, let filter = node["of_type"] {
            diagnostics.append(.error(at: filter.keyLocation, field: "\(field).of_type", "'of_type' picks the frames that 'every' checks; here, check the frame's type with 'type'"))
        }
        checkKeys(entries.filter { $0.key != "of_type" }, known: PipelineTestReader.frameCheckFields, prefix: field, in: "a frame check")
        var matcher = FrameMatcher(location: node.location, field: field)
        if picksFrames, let filter = node["of_type"]?.value {
            if let type = filter.scalarText, !filter.isNull {
                matcher.onlyType = type
            } else {
                error(filter, "\(field).of_type", "expected a message type, e.g. simulation_state, found \(filter.kindDescription)")
            }
        }
        matcher.type = node["type"].flatMap { readValueMatcher($0.value, field: "\(field).type") }
        matcher.sequence = node["sequence"].flatMap { readValueMatcher($0.value, field: "\(field).sequence") }
        matcher.essential = node["essential"].flatMap { readBool($0.value, field: "\(field).essential") }
        if let payload = node["payload"]?.value {
            guard let fields = payload.entries else {
                error(payload, "\(field).payload", "expected a mapping of payload fields (dotted paths such as features.pot_mean_mV) to what they must be, found \(payload.kindDescription)")
                return nil
            }
            for entry in fields {
                let path = entry.key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                let fieldPath = "\(field).payload.\(entry.key)"
                guard !path.contains(where: \.isEmpty) else {
                    diagnostics.append(.error(at: entry.keyLocation, field: fieldPath, "expected a dotted path such as features.pot_mean_mV, found '\(entry.key)'"))
                    continue
                }
                if let value = readValueMatcher(entry.value, field: fieldPath) {
                    matcher.payload.append(FrameMatcher.FieldCheck(path: path, matcher: value))
                }
            }
        }
        return matcher
    }

    /// A plain value means "equals"; a mapping names conditions.
    mutating func readValueMatcher(_ node: ConfigNode, field: String) -> ValueMatcher? {
        guard let entries = node.entries else {
            return ValueMatcher(equals: node.jsonValue)
        }
        let known = ValueMatcher.conditionNames
        for entry in entries where !known.contains(entry.key) {
            let hint = Suggestions.didYouMean(entry.key, in: known)
            diagnostics.append(.error(
                at: entry.keyLocation, field: join(field, entry.key),
                "unknown condition '\(entry.key)'" + (hint.isEmpty ? " (known: \(known.joined(separator: ", "))); to compare with a mapping, write equals: { ... }" : hint)))
        }
        guard !entries.isEmpty else {
            error(node, field, "expected a value, or a mapping of conditions (\(known.joined(separator: ", ")))")
            return nil
        }
        var matcher = ValueMatcher()
        matcher.equals = node["equals"]?.value.jsonValue
        matcher.tolerance = node["tolerance"].flatMap { readNumber($0.value, field: "\(field).tolerance", min: 0) }
        matcher.minimum = node["min"].flatMap { readNumber($0.value, field: "\(field).min") }
        matcher.maximum = node["max"].flatMap { readNumber($0.value, field: "\(field).max") }
        matcher.length = node["length"].flatMap { readInt($0.value, field: "\(field).length", min: 0, max: nil) }
        matcher.exists = node["exists"].flatMap { readBool($0.value, field: "\(field).exists") }
        if let kindNode = node["type"]?.value {
            let names = ValueMatcher.Kind.allCases.map(\.rawValue)
            if let text = kindNode.scalarText, let kind = ValueMatcher.Kind(rawValue: text) {
                matcher.kind = kind
            } else {
                error(kindNode, "\(field).type", "expected one of \(names.joined(separator: ", ")), found \(kindNode.kindDescription)\(Suggestions.didYouMean(kindNode.scalarText ?? "", in: names))")
            }
        }
        if let tolerance = node["tolerance"], matcher.equals?.containsNumbers != true {
            diagnostics.append(.error(at: tolerance.keyLocation, field: "\(field).tolerance", "'tolerance' applies to the numbers of 'equals'; add equals: <number>"))
        }
        if let minimum = matcher.minimum, let maximum = matcher.maximum, minimum > maximum, let location = node["min"]?.value {
            error(location, "\(field).min", "min (\(ConfigReader.format(minimum))) is above max (\(ConfigReader.format(maximum)))")
        }
        if matcher.exists == false, entries.count > 1, let exists = node["exists"] {
            diagnostics.append(.error(at: exists.keyLocation, field: "\(field).exists", "'exists: false' says the field is absent, so no other condition can hold; keep it alone"))
        }
        return matcher
    }

    // MARK: Scalars

    mutating func readInt(_ node: ConfigNode, field: String, min: Int, max: Int?) -> Int? {
        let bounds = ConfigReader.boundsText(min: String(min), max: max.map(String.init), below: nil) ?? ""
        guard let text = node.scalarText, let value = Int(text), value >= min, max.map({ value <= $0 }) ?? true else {
            error(node, field, "expected an integer \(bounds), found \(node.kindDescription)")
            return nil
        }
        return value
    }

    mutating func readNumber(_ node: ConfigNode, field: String, min: Double? = nil) -> Double? {
        guard let text = node.scalarText, let value = Double(text), value.isFinite, min.map({ value >= $0 }) ?? true else {
            let bounds = min.map { " of at least \(ConfigReader.format($0))" } ?? ""
            error(node, field, "expected a number\(bounds), found \(node.kindDescription)")
            return nil
        }
        return value
    }

    mutating func readBool(_ node: ConfigNode, field: String) -> Bool? {
        guard case .bool(let value) = node.jsonValue else {
            error(node, field, "expected \(BoolSpelling.yaml.accepted), found \(node.kindDescription)")
            return nil
        }
        return value
    }
}

extension JSONValue {
    /// Whether a number is in it anywhere, which a tolerance could apply to.
    fileprivate var containsNumbers: Bool {
        switch self {
        case .int, .double, .numbers: true
        case .array(let items): items.contains { $0.containsNumbers }
        case .object(let object): object.contains { $0.value.containsNumbers }
        case .null, .bool, .string: false
        }
    }
}
