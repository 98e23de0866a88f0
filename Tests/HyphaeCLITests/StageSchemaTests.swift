import Foundation
import HyphaeTesting
import XCTest

/// `hyphae stages --json`, and the stage tables of Docs/PIPELINES.md checked against it.
final class StageSchemaTests: XCTestCase {
    func testStagesJSONIsValidAndListsEveryRegisteredStage() throws {
        let stages = try StageSchema.all()
        // The text listing shows every registered stage, one header line each.
        let listing = try runHyphae(["stages"])
        XCTAssertEqual(listing.status, 0, listing.description)
        let headers = listing.outputLines.filter { !$0.hasPrefix(" ") }
        XCTAssertEqual(stages.map(\.header), headers.map { String($0.prefix { $0 != ":" }) })
        XCTAssertEqual(Set(stages.map(\.kind)), ["source", "transform", "sink"])
        for stage in stages {
            XCTAssertFalse(stage.summary.isEmpty, stage.type)
            XCTAssertEqual(Set(stage.fields.map(\.name)).count, stage.fields.count, "\(stage.type) lists a field twice")
            for field in stage.fields {
                XCTAssertFalse(field.description.isEmpty, "\(stage.type).\(field.name)")
                XCTAssertFalse(field.isRequired && field.defaultValue != nil, "\(stage.type).\(field.name) is required yet has a default")
            }
        }
        let one = try StageSchema.all(["sample"])
        XCTAssertEqual(one.map(\.type), ["sample"])
    }

    func testPipelinesDocDescribesEveryStageFieldAsTheBuildDoes() throws {
        let stages = try StageSchema.all()
        let docs = try StageDocs(markdown: String(contentsOf: StageDocs.file, encoding: .utf8))
        XCTAssertEqual(StageDocs.disagreements(stages, docs), [], "Docs/PIPELINES.md, \"Built-in stages\", against `hyphae stages --json`")
    }

    /// The check fails when a field has no row, a row is wrong, or a row describes no field.
    func testTheDocCheckNoticesWhatItShould() throws {
        let stages = try StageSchema.all(["ticker"])
        let text = try String(contentsOf: StageDocs.file, encoding: .utf8)
        let withoutCount = text.replacingOccurrences(of: "| `count` | int | endless | ≥ 1 | stop after this many frames |\n", with: "")
        XCTAssertNotEqual(withoutCount, text, "the ticker's count row is where the test expects it")
        XCTAssertEqual(StageDocs.disagreements(stages, StageDocs(markdown: withoutCount)), ["ticker.count: no row"])

        let wrongDefault = text.replacingOccurrences(of: "| `rate` | float | 10 |", with: "| `rate` | float | 20 |")
        XCTAssertEqual(StageDocs.disagreements(stages, StageDocs(markdown: wrongDefault)), ["ticker.rate: default '20', the build says '10'"])

        let extraRow = text.replacingOccurrences(
            of: "| `count` | int | endless |", with: "| `burst` | int | 1 | | gone |\n| `count` | int | endless |")
        XCTAssertEqual(StageDocs.disagreements(stages, StageDocs(markdown: extraRow)), ["ticker.burst: a row for a field the build does not have"])
    }
}

/// One stage as `hyphae stages --json` describes it.
struct StageSchema {
    struct Field {
        var name: String
        var type: String
        var defaultValue: Any?
        var isRequired: Bool
        var minimum: Double?
        var maximum: Double?
        var below: Double?
        var allowed: [String]?
        var description: String
    }

    var type: String
    var kind: String
    var summary: String
    var fields: [Field]

    var header: String { "\(type) (\(kind))" }

    /// Runs `hyphae stages --json` with `types` and reads its output.
    static func all(_ types: [String] = []) throws -> [StageSchema] {
        let result = try runHyphae(["stages", "--json"] + types)
        guard result.status == 0, result.standardError.isEmpty else { throw ClientProgramError("hyphae stages --json failed: \(result)") }
        let parsed = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        guard let stages = parsed as? [[String: Any]] else { throw ClientProgramError("not a JSON array of objects: \(result.standardOutput)") }
        return try stages.map(StageSchema.init(json:))
    }

    init(json: [String: Any]) throws {
        guard let type = json["type"] as? String, let kind = json["kind"] as? String, let summary = json["summary"] as? String,
            let fields = json["fields"] as? [[String: Any]]
        else { throw ClientProgramError("a stage without type, kind, summary or fields: \(json)") }
        self.type = type
        self.kind = kind
        self.summary = summary
        self.fields = try fields.map { field in
            guard let name = field["name"] as? String, let type = field["type"] as? String, let isRequired = field["required"] as? Bool,
                let description = field["description"] as? String, field.keys.contains("default")
            else { throw ClientProgramError("\(type): a field without name, type, default, required or description: \(field)") }
            return Field(
                name: name, type: type, defaultValue: field["default"] is NSNull ? nil : field["default"], isRequired: isRequired,
                minimum: (field["min"] as? NSNumber)?.doubleValue, maximum: (field["max"] as? NSNumber)?.doubleValue,
                below: (field["below"] as? NSNumber)?.doubleValue, allowed: field["allowed"] as? [String], description: description)
        }
    }
}

/// What the "Built-in stages" section of Docs/PIPELINES.md says: under a
/// `### Sources`, `### Transforms` or `### Sinks` heading, each stage starts with
/// a line "**`type`**: ..." and has one table, `| field | type | default | bounds | meaning |`.
/// Backticks in cells are for reading only and are ignored.
struct StageDocs {
    struct Row {
        var type: String
        var defaultText: String
        var bounds: String
    }

    static let file = PackagePaths.root.appendingPathComponent("Docs/PIPELINES.md")

    /// The heading each stage is under, and its rows by field name.
    var headings: [String: String] = [:]
    var rows: [String: [String: Row]] = [:]
    var malformed: [String] = []

    init(markdown: String) {
        var inSection = false
        var heading = ""
        var stage: String?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("## ") {
                inSection = line == "## Built-in stages"
                continue
            }
            guard inSection else { continue }
            if line.hasPrefix("### ") {
                heading = String(line.dropFirst(4))
                stage = nil
            } else if line.hasPrefix("**`"), let end = line.dropFirst(3).firstIndex(of: "`") {
                let name = String(line[line.index(line.startIndex, offsetBy: 3)..<end])
                stage = name
                headings[name] = heading
                rows[name] = rows[name] ?? [:]
            } else if line.hasPrefix("| `"), let stage {
                let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map(Self.plain)
                guard cells.count == 5 else {
                    malformed.append("\(stage): a row that is not field | type | default | bounds | meaning: \(line)")
                    continue
                }
                rows[stage, default: [:]][cells[0]] = Row(type: cells[1], defaultText: cells[2], bounds: cells[3])
            }
        }
    }

    /// Everything the docs say differently from the build, one line each; empty when they agree.
    static func disagreements(_ stages: [StageSchema], _ docs: StageDocs) -> [String] {
        var found = docs.malformed
        let headingOfKind = ["source": "Sources", "transform": "Transforms", "sink": "Sinks"]
        for stage in stages {
            guard let rows = docs.rows[stage.type] else {
                found.append("\(stage.type): not described (no **`\(stage.type)`** line)")
                continue
            }
            if docs.headings[stage.type] != headingOfKind[stage.kind] {
                found.append("\(stage.type): under '\(docs.headings[stage.type] ?? "")', not '\(headingOfKind[stage.kind] ?? stage.kind)'")
            }
            for field in stage.fields {
                let name = "\(stage.type).\(field.name)"
                guard let row = rows[field.name] else {
                    found.append("\(name): no row")
                    continue
                }
                if row.type != field.type { found.append("\(name): type '\(row.type)', the build says '\(field.type)'") }
                if let expected = defaultText(field) {
                    if row.defaultText != expected { found.append("\(name): default '\(row.defaultText)', the build says '\(expected)'") }
                } else if field.isRequired != (row.defaultText == "required") || row.defaultText.isEmpty {
                    let expected = field.isRequired ? "'required'" : "what leaving it out means (it has no default)"
                    found.append("\(name): default '\(row.defaultText)', the build says \(expected)")
                }
                let bounds = boundsText(field)
                if row.bounds != bounds { found.append("\(name): bounds '\(row.bounds)', the build says '\(bounds)'") }
            }
            for name in rows.keys.sorted() where !stage.fields.contains(where: { $0.name == name }) {
                found.append("\(stage.type).\(name): a row for a field the build does not have")
            }
        }
        return found
    }

    /// The default as the docs write it: `10`, `0.18`, `true`, `tick`, `[a, b]`; nil when there is none.
    static func defaultText(_ field: StageSchema.Field) -> String? {
        guard let value = field.defaultValue else { return nil }
        switch field.type {
        case "bool": return (value as? Bool).map { $0 ? "true" : "false" } ?? "\(value)"
        case "int", "float": return (value as? NSNumber).map { number($0.doubleValue) } ?? "\(value)"
        case "list of strings": return (value as? [String]).map { "[" + $0.joined(separator: ", ") + "]" } ?? "\(value)"
        default: return value as? String ?? "\(value)"
        }
    }

    /// The bounds as the docs write them: `0 to 100`, `0 to below 1`, `≥ 1`, `≤ 9`, `< 1`, or the allowed values.
    static func boundsText(_ field: StageSchema.Field) -> String {
        if let allowed = field.allowed { return allowed.joined(separator: ", ") }
        switch (field.minimum.map(number), field.maximum.map(number), field.below.map(number)) {
        case let (min?, max?, _): return "\(min) to \(max)"
        case let (min?, nil, below?): return "\(min) to below \(below)"
        case let (min?, nil, nil): return "≥ \(min)"
        case let (nil, max?, _): return "≤ \(max)"
        case let (nil, nil, below?): return "< \(below)"
        case (nil, nil, nil): return ""
        }
    }

    /// Whole numbers without a decimal point, others in their shortest form.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }

    private static func plain(_ cell: Substring) -> String {
        cell.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "")
    }
}
