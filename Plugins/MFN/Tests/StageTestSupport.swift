import HyphaeCore
import Logging
import XCTest

@testable import MFN

/// Reads a stage configuration from a YAML mapping, as a pipeline file's `source:` would hold it.
func readConfiguration<Configuration: StageConfiguration>(
    _ type: Configuration.Type, _ yaml: String, file: StaticString = #filePath, line: UInt = #line
) throws -> (configuration: Configuration, problems: [String]) {
    let node: ConfigNode
    switch YAMLDocument.parse(yaml.isEmpty ? "{}" : yaml, file: "test.yaml") {
    case .success(let parsed): node = parsed
    case .failure(let diagnostic):
        XCTFail("the test's YAML does not parse: \(diagnostic)", file: file, line: line)
        throw diagnostic
    }
    var reader = ConfigReader(
        node: node, stageType: "test", fieldPrefix: "source", values: ReferenceValues(params: [:], environment: [:]))
    let configuration = Configuration(reading: &reader)
    reader.finish()
    return (configuration, reader.diagnostics.map(\.description))
}

/// A configuration that must read without problems.
func validConfiguration<Configuration: StageConfiguration>(
    _ type: Configuration.Type, _ yaml: String, file: StaticString = #filePath, line: UInt = #line
) throws -> Configuration {
    let (configuration, problems) = try readConfiguration(type, yaml, file: file, line: line)
    XCTAssertEqual(problems, [], file: file, line: line)
    return configuration
}

let testContext = StageContext(pipeline: "test", instance: "test", logger: Logger(label: "mfn.test"))

/// Every frame a finite source emits, up to a safety limit.
func drain<Source: SourceStage>(_ source: inout Source, limit: Int = 10_000) async throws -> [Frame] {
    var frames: [Frame] = []
    while frames.count < limit, let frame = try await source.next() {
        frames.append(frame)
    }
    return frames
}

extension Frame {
    func number(_ path: String...) -> Double? {
        var value: JSONValue = .object(payload)
        for key in path {
            guard let next = value[key] else { return nil }
            value = next
        }
        return value.numberValue
    }
}
