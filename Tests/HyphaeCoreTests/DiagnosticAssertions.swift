import HyphaeCore
import HyphaeTesting
import XCTest

/// A diagnostic reduced to what a test pins down: where, which field, how severe.
struct Place: Equatable, CustomStringConvertible {
    var line: Int
    var column: Int
    var field: String?
    var severity: Diagnostic.Severity = .error

    var description: String { "\(line):\(column) \(field ?? "-") \(severity.rawValue)" }
}

extension Diagnostic {
    var place: Place? {
        location.map { Place(line: $0.line, column: $0.column, field: field, severity: severity) }
    }
}

func describe(_ diagnostics: [Diagnostic]) -> String {
    diagnostics.isEmpty ? "(no diagnostics)" : diagnostics.map(\.description).joined(separator: "\n")
}

/// Asserts that loading `yaml` gives exactly one diagnostic, at `line:column` in
/// `field`, whose message contains every one of `words`; returns it for further checks.
@discardableResult
func assertSingleDiagnostic(
    _ result: PipelineFileResult,
    line: Int, column: Int, field: String?, severity: Diagnostic.Severity = .error,
    contains words: [String],
    file: StaticString = #filePath, line testLine: UInt = #line
) -> Diagnostic? {
    guard result.diagnostics.count == 1, let diagnostic = result.diagnostics.first else {
        XCTFail("expected one diagnostic, found:\n\(describe(result.diagnostics))", file: file, line: testLine)
        return nil
    }
    XCTAssertEqual(diagnostic.place, Place(line: line, column: column, field: field, severity: severity), diagnostic.description, file: file, line: testLine)
    XCTAssertEqual(diagnostic.location?.file, result.file, file: file, line: testLine)
    for word in words where !diagnostic.message.contains(word) {
        XCTFail("the message does not contain \"\(word)\": \(diagnostic.description)", file: file, line: testLine)
    }
    if severity == .error {
        XCTAssertNil(result.pipeline, "an invalid file must give no pipeline", file: file, line: testLine)
    }
    return diagnostic
}

/// The pipeline of a file that must load, failing with every diagnostic when it does not.
func requirePipeline(_ result: PipelineFileResult, file: StaticString = #filePath, line: UInt = #line) throws -> PipelineDefinition {
    XCTAssertFalse(result.diagnostics.hasErrors, describe(result.diagnostics), file: file, line: line)
    return try XCTUnwrap(result.pipeline, describe(result.diagnostics), file: file, line: line)
}
