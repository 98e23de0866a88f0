import HyphaeCore
import HyphaeTesting
import MovingAverage
import XCTest

final class MovingAverageTransformTests: XCTestCase {
    private func transform(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> MovingAverageTransform {
        let (configuration, diagnostics) = readConfiguration(MovingAverageTransform.Configuration.self, yaml: yaml, stageType: "moving_average")
        XCTAssertEqual(diagnostics, [], file: file, line: line)
        return MovingAverageTransform(configuration: configuration, context: testContext())
    }

    private func run(_ transform: inout MovingAverageTransform, _ payloads: [JSONObject]) -> [Frame] {
        var output: [Frame] = []
        for payload in payloads {
            transform.process(Frame(type: "f", timestamp: 0, payload: payload), into: &output)
        }
        return output
    }

    func testTheAverageOfTheLatestWindow() {
        var average = transform("field: value\nwindow: 3")
        let output = run(&average, [["value": 1], ["value": 2], ["value": 3], ["value": 4], ["value": 10.5]])
        XCTAssertEqual(output.map { $0.payload["value_avg"] }, [1.0, 1.5, 2.0, 3.0, 5.833333333333333])
        XCTAssertEqual(output.map { $0.payload["value"] }, [1, 2, 3, 4, 10.5], "the field itself is left alone")
    }

    func testANestedFieldAndACustomOutput() {
        var average = transform("field: stats.mean\nwindow: 2\noutput: smooth")
        let output = run(&average, [["stats": ["mean": 2]], ["stats": ["mean": 4]], ["stats": ["mean": 8]]])
        XCTAssertEqual(output.map { $0.payload["smooth"] }, [2.0, 3.0, 6.0])
    }

    func testFramesWithoutTheFieldPassThroughUnchanged() {
        var average = transform("field: stats.mean\nwindow: 2")
        let payloads: [JSONObject] = [["other": 1], ["stats": "text"], ["stats": ["mean": "high"]], ["stats": ["mean": 6]]]
        let output = run(&average, payloads)
        XCTAssertEqual(output.map(\.payload), [["other": 1], ["stats": "text"], ["stats": ["mean": "high"]], ["stats": ["mean": 6], "mean_avg": 6.0]])
    }

    func testSettings() {
        let (defaults, _) = readConfiguration(MovingAverageTransform.Configuration.self, yaml: "field: a.b", stageType: "moving_average")
        XCTAssertEqual(defaults.field, ["a", "b"])
        XCTAssertEqual(defaults.window, 10)
        XCTAssertEqual(defaults.output, "b_avg")
        func messages(_ yaml: String) -> [String] {
            readConfiguration(MovingAverageTransform.Configuration.self, yaml: yaml, stageType: "moving_average").diagnostics.map(\.summary)
        }
        XCTAssertEqual(messages("window: 3"), ["stage.field: missing required field 'field'"])
        XCTAssertEqual(messages("field: a..b"), ["stage.field: expected a dotted path such as features.pot_mean_mV, found 'a..b'"])
        XCTAssertEqual(messages("field: a\nwindow: 0"), ["stage.window: expected an integer from 1 to 100000, found '0'"])
    }
}
