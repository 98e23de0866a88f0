import HyphaeCore
import HyphaeTesting
import XCTest

/// Params a subscriber sets: checked against their declarations, then used to configure the stages.
final class ParamTests: XCTestCase {
    /// `counts` is declared but no stage uses it (a warning), so that resolving can be tested on an int list.
    private var pipeline: PipelineDefinition!

    override func setUpWithError() throws {
        pipeline = try requirePipeline(loadPipeline(yaml: """
            name: demo
            params:
              size: { type: int, default: 16, min: 8, max: 64 }
              ratio: { type: float, default: 0.5, min: 0, max: 5 }
              on: { type: bool, default: true }
              label: { type: string, default: plain }
              colours: { type: list, items: string, default: [red], allowed: [red, green, blue] }
              counts: { type: list, items: int, default: [1, 2] }
            source:
              type: counter
              count: ${size}
            transforms:
              - type: shape
                ratio: ${ratio}
                enabled: ${on}
                label: ${label}
                tags: ${colours}
            sinks:
              - type: discard
            """))
    }

    private func resolve(_ given: JSONObject?) -> Result<ResolvedParams, ParamError> {
        pipeline.resolveParams(given)
    }

    private func failure(_ given: JSONObject, file: StaticString = #filePath, line: UInt = #line) -> ParamError? {
        switch resolve(given) {
        case .success(let resolved):
            XCTFail("expected an error, resolved \(resolved.values)", file: file, line: line)
            return nil
        case .failure(let error):
            return error
        }
    }

    func testNoValuesGiveTheDefaults() throws {
        let resolved = try resolve(nil).get()
        XCTAssertEqual(resolved.values, ["size": 16, "ratio": 0.5, "on": true, "label": "plain", "colours": ["red"], "counts": [1, 2]])
        XCTAssertEqual(resolved.setBySubscriber, [])
        XCTAssertEqual(resolved, pipeline.defaultParams)
        XCTAssertEqual(try resolve(["size": nil]).get().values["size"], 16, "null means the default")
    }

    func testValuesAreCanonicalised() throws {
        let resolved = try resolve(["size": 32.0, "ratio": 1]).get()
        XCTAssertEqual(resolved.values["size"], .int(32), "an integral float becomes an int")
        XCTAssertEqual(resolved.values["ratio"], .double(1), "an int becomes a float")
        XCTAssertEqual(resolved.setBySubscriber, ["size", "ratio"])
        XCTAssertEqual(resolved.values.keys, ["size", "ratio", "on", "label", "colours", "counts"], "declaration order")
    }

    func testEqualValuesShareAnInstanceWhoeverSetThem() throws {
        let explicit = try resolve(["size": 16]).get()
        let defaulted = try resolve(nil).get()
        XCTAssertEqual(explicit, defaulted)
        XCTAssertEqual(explicit.hashValue, defaulted.hashValue)
        XCTAssertNotEqual(explicit.setBySubscriber, defaulted.setBySubscriber)
        XCTAssertNotEqual(try resolve(["size": 17]).get(), defaulted)
    }

    func testAnUndeclaredNameListsTheAllowedNames() {
        let error = failure(["sise": 3])
        XCTAssertNil(error?.param)
        XCTAssertEqual(error?.message, "'demo' has no param 'sise'; did you mean 'size'? (allowed: size, ratio, on, label, colours, counts)")
    }

    func testOutOfRangeAndWrongTypes() {
        XCTAssertEqual(failure(["size": 300])?.description, "param 'size': expected an integer from 8 to 64, found 300")
        XCTAssertEqual(failure(["size": 7])?.description, "param 'size': expected an integer from 8 to 64, found 7")
        XCTAssertEqual(failure(["size": 32.5])?.description, "param 'size': expected an integer from 8 to 64, found 32.5")
        XCTAssertEqual(failure(["size": "big"])?.description, "param 'size': expected an integer from 8 to 64, found \"big\"")
        XCTAssertEqual(failure(["ratio": true])?.description, "param 'ratio': expected a number from 0 to 5, found true")
        XCTAssertEqual(failure(["on": 1])?.description, "param 'on': expected true or false, found 1")
        XCTAssertEqual(failure(["label": 5])?.description, "param 'label': expected a string, found 5")
        XCTAssertEqual(failure(["colours": "red"])?.description, "param 'colours': expected a list of strings, found a string")
    }

    func testListItemsAreCheckedAgainstTheAllowedValues() throws {
        XCTAssertEqual(try resolve(["colours": ["green", "blue"]]).get().values["colours"], ["green", "blue"])
        XCTAssertEqual(try resolve(["counts": [3.0, 4]]).get().values["counts"], [3, 4])
        XCTAssertEqual(failure(["colours": ["red", "gren"]])?.description, "param 'colours': expected one of \"red\", \"green\", \"blue\", found \"gren\"; did you mean 'green' or 'red'?")
        XCTAssertEqual(failure(["counts": [1, "2"]])?.description, "param 'counts': expected an integer, found \"2\"")
    }

    func testConfigureUsesTheSubscribersValues() throws {
        let configuration = try pipeline.configure(with: resolve(["size": 9, "label": "mine", "colours": ["blue"]]).get()).get()
        XCTAssertEqual((configuration.source.configuration as? CounterSource.Configuration)?.count, 9)
        let shape = try XCTUnwrap(configuration.transforms.first?.configuration as? ShapeTransform.Configuration)
        XCTAssertEqual(shape.label, "mine")
        XCTAssertEqual(shape.tags, ["blue"])
        XCTAssertEqual(configuration.pipeline, "demo")
        XCTAssertEqual(configuration.version, pipeline.version)
        XCTAssertTrue(configuration.isFinite)
    }

    func testConfigureRejectsValuesWithinTheParamBoundsButOutsideTheStages() throws {
        let resolved = try resolve(["ratio": 2]).get()
        switch pipeline.configure(with: resolved) {
        case .success:
            XCTFail("ratio 2 passes the param's bounds (0...5) but not the stage's (below 1)")
        case .failure(let error):
            XCTAssertEqual(error.description, "these params give an invalid pipeline: transforms[0].ratio: expected a number from 0 to below 1, found 2.0 (param 'ratio')")
        }
    }

    func testCommandLineValues() {
        let size = pipeline.param(named: "size")
        XCTAssertEqual(try size?.value(fromCommandLine: "32").get(), 32)
        XCTAssertEqual(size?.value(fromCommandLine: "big"), .failure(ParamError(param: "size", "expected an integer from 8 to 64, found 'big'")))
        XCTAssertEqual(size?.value(fromCommandLine: "99"), .failure(ParamError(param: "size", "expected an integer from 8 to 64, found 99")))
        XCTAssertEqual(try pipeline.param(named: "ratio")?.value(fromCommandLine: "0.25").get(), 0.25)
        XCTAssertEqual(try pipeline.param(named: "on")?.value(fromCommandLine: "no").get(), false)
        XCTAssertEqual(try pipeline.param(named: "on")?.value(fromCommandLine: "TRUE").get(), true)
        XCTAssertEqual(pipeline.param(named: "on")?.value(fromCommandLine: "maybe"), .failure(ParamError(param: "on", "expected true/1/yes or false/0/no, found 'maybe'")))
        XCTAssertEqual(try pipeline.param(named: "label")?.value(fromCommandLine: "a b").get(), "a b")
        XCTAssertEqual(try pipeline.param(named: "colours")?.value(fromCommandLine: "red, blue").get(), ["red", "blue"])
        XCTAssertEqual(try pipeline.param(named: "colours")?.value(fromCommandLine: "[\"green\"]").get(), ["green"])
        XCTAssertEqual(try pipeline.param(named: "colours")?.value(fromCommandLine: "").get(), [])
        XCTAssertEqual(try pipeline.param(named: "counts")?.value(fromCommandLine: "4,5").get(), [4, 5])
        if case .success = pipeline.param(named: "counts")?.value(fromCommandLine: "4,x") { XCTFail("'x' is not an integer") }
    }

    func testTheDescriptionJSON() {
        XCTAssertEqual(pipeline.param(named: "size")?.descriptionJSON, ["type": "int", "default": 16, "min": 8, "max": 64])
        XCTAssertEqual(pipeline.param(named: "colours")?.descriptionJSON, ["type": "list", "items": "string", "default": ["red"], "allowed": ["red", "green", "blue"]])
    }
}
