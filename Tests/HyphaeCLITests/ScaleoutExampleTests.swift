import HyphaeTesting
import XCTest

/// Docs/examples/scaleout: its pipelines load, and `hyphae run` says where a websocket sink runs.
final class ScaleoutExampleTests: XCTestCase {
    func testTheExamplePipelinesValidate() throws {
        for role in ["producer", "edge"] {
            let result = try runHyphae(["validate", "Docs/examples/scaleout/\(role)/pipelines"])
            XCTAssertEqual(result.status, 0, result.description)
            XCTAssertTrue(result.standardOutput.contains("ok: stream_features"), result.description)
        }
    }

    func testRunRefusesAWebSocketSink() throws {
        let result = try runHyphae(["run", "ticker"])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertTrue(result.standardError.contains("the websocket sink serves subscribers inside 'hyphae serve' only"), result.description)
    }
}
