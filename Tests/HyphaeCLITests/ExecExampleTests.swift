import Foundation
import HyphaeTesting
import XCTest

/// Runs Docs/examples/exec-python through `hyphae`: the pipelines validate, the
/// pass-through gives every frame back, and the NumPy program scores a feature.
final class ExecExampleTests: XCTestCase {
    private let folder = "Docs/examples/exec-python"

    private func payloads(_ result: CommandResult, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        try result.outputLines.map { text in
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            return try XCTUnwrap(object?["payload"] as? [String: Any], "not a frame: \(text)", file: file, line: line)
        }
    }

    func testTheExamplePipelinesAreValid() throws {
        let result = try runHyphae(["validate", folder])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(result.outputLines.count, 2, result.description)
    }

    func testThePassThroughGivesEveryFrameBack() throws {
        let result = try runHyphae(["tap", "\(folder)/passthrough.yaml", "--frames", "300"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(try payloads(result).compactMap { $0["count"] as? Int }, Array(1...300))
    }

    /// Needs NumPy, which ./test.sh installs; without it the test fails and says so.
    func testTheNumPyProgramScoresAFeature() throws {
        let python = try XCTUnwrap(executableOnPath("python3"), "python3 is not on the PATH; run ./test.sh, which installs it")
        let numpy = try runProgram(python, ["-c", "import numpy"])
        guard numpy.status == 0 else {
            throw ClientProgramError("this test needs NumPy for Docs/examples/exec-python/zscore.py; run ./test.sh, which installs it\n\(numpy)")
        }
        let result = try runHyphae(["tap", "\(folder)/zscore.yaml", "--frames", "8", "--param", "window=3", "--param", "feature=fractal_dimension"])
        XCTAssertEqual(result.status, 0, result.description)
        let features = try payloads(result).map { try XCTUnwrap($0["features"] as? [String: Any]) }
        XCTAssertEqual(features.count, 8, result.description)
        var window: [Double] = []
        for frame in features {
            let value = try XCTUnwrap(frame["fractal_dimension"] as? Double)
            window = Array((window + [value]).suffix(3))
            let mean = window.reduce(0, +) / Double(window.count)
            let spread = (window.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(window.count)).squareRoot()
            let expected = spread > 0 ? (value - mean) / spread : 0
            XCTAssertEqual(try XCTUnwrap(frame["fractal_dimension_avg"] as? Double), mean, accuracy: 1e-6)
            XCTAssertEqual(try XCTUnwrap(frame["fractal_dimension_z"] as? Double), expected, accuracy: 1e-4)
        }
        XCTAssertTrue(result.standardError.contains("zscore: fractal_dimension over the last 3 values"), "the program's standard error is in the log:\n\(result.standardError)")
    }
}
