import HyphaeCore
import HyphaeTesting
import XCTest

/// `ConfigReader.stringMapping` and `ConfigReader.file`, through a configuration of their own.
final class ConfigReaderMappingTests: XCTestCase {
    private struct Labels: StageConfiguration {
        var labels: [(key: String, value: String)]
        var file: String?

        init(reading config: inout ConfigReader) {
            labels = config.stringMapping("labels", summary: "names to text")
            file = config.file
        }
    }

    private func read(_ yaml: String, params: [String: JSONValue] = [:], environment: [String: String] = [:]) -> (Labels, [String]) {
        let (configuration, diagnostics) = readConfiguration(Labels.self, yaml: yaml, params: params, environment: environment)
        return (configuration, diagnostics.map(\.summary))
    }

    func testValuesAreTextWithReferencesResolved() {
        let (labels, problems) = read(
            "labels: {plain: a b, number: 3, whole: \"${n}\", inside: \"n=${n}\", home: \"${env:HOME}\", empty: \"\"}",
            params: ["n": 7], environment: ["HOME": "/home/h"])
        XCTAssertEqual(problems, [])
        XCTAssertEqual(labels.labels.map(\.key), ["plain", "number", "whole", "inside", "home", "empty"])
        XCTAssertEqual(labels.labels.map(\.value), ["a b", "3", "7", "n=7", "/home/h", ""], "a param that is not text is written as JSON")
    }

    func testAbsentIsEmptyAndWrongShapesAreReported() {
        XCTAssertEqual(read("").0.labels.count, 0)
        XCTAssertEqual(read("labels: [a, b]").1, ["stage.labels: expected a mapping of names to text, found a list"])
        XCTAssertEqual(read("labels: {a: ~, b: [1]}").1, [
            "stage.labels.a: expected text, found nothing; write \"\" for an empty value",
            "stage.labels.b: expected a single value, found a list",
        ])
        XCTAssertEqual(read("labels: {a: \"${nope}\"}").1, ["stage.labels.a: param 'nope' is used but not declared under 'params'"])
    }

    func testTheFileIsTheOneTheLoaderWasGiven() {
        XCTAssertEqual(read("labels: {}").0.file, "stage.yaml")
        var describing = ConfigReader(describing: "labels")
        XCTAssertNil(Labels(reading: &describing).file)
    }
}
