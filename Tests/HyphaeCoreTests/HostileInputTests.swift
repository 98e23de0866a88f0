import HyphaeCore
import HyphaeTesting
import XCTest

/// Pipeline files are input like any other: numbers that cannot be used are refused
/// at load time, with their place, rather than trapping when something reads them.
final class HostileInputTests: XCTestCase {
    func testAnIntBoundPastTwoToTheFiftyThirdIsRefused() {
        for bound in ["1e300", "-1e300", "9007199254740993", "1e16"] {
            let result = loadPipeline(yaml: """
                name: demo
                params:
                  size: { type: int, default: 1, max: \(bound) }
                source:
                  type: counter
                  count: ${size}
                sinks:
                  - type: discard
                """)
            assertSingleDiagnostic(result, line: 3, column: 39, field: "params.size.max", contains: ["±9007199254740992", bound])
        }
    }

    func testTheLargestExactBoundsLoadAndListAsIntegers() throws {
        let pipeline = try requirePipeline(loadPipeline(yaml: """
            name: demo
            params:
              size: { type: int, default: 1, min: -9007199254740992, max: 9007199254740992 }
              ratio: { type: float, default: 1, max: 1e300 }
            source:
              type: counter
              count: ${size}
            transforms:
              - type: shape
                factor: ${ratio}
                label: x
            sinks:
              - type: discard
            """))
        let size = try XCTUnwrap(pipeline.param(named: "size")?.descriptionJSON.objectValue)
        XCTAssertEqual(size["max"], .int(9_007_199_254_740_992))
        XCTAssertEqual(size["min"], .int(-9_007_199_254_740_992))
        let ratio = try XCTUnwrap(pipeline.param(named: "ratio")?.descriptionJSON.objectValue)
        XCTAssertEqual(ratio["max"], .double(1e300))
    }
}

/// Client messages are parsed on the event loop: an object's cost must stay linear in
/// its size, and its size bounded.
final class HostileJSONTests: XCTestCase {
    func testARepeatedNameKeepsItsLastValueInItsFirstPlace() throws {
        let object = try XCTUnwrap(JSONParser.parse(#"{"a": 1, "b": 2, "a": 3}"#).objectValue)
        XCTAssertEqual(object.keys, ["a", "b"])
        XCTAssertEqual(object["a"], .int(3))
    }

    func testManyMembersParseAndEveryOneIsKept() throws {
        let count = 8_000
        let text = "{" + (0..<count).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"
        let object = try XCTUnwrap(JSONParser.parse(text).objectValue)
        XCTAssertEqual(object.count, count)
        XCTAssertEqual(object["k7999"], .int(7999))
        // The same names again: each replaces its value without growing the object.
        let twice = "{" + (0..<count).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "," + (0..<count).map { "\"k\($0)\":0" }.joined(separator: ",") + "}"
        XCTAssertEqual(try XCTUnwrap(JSONParser.parse(twice).objectValue).count, count)
    }

    func testMembersPastTheCapAreRefusedWithTheirPlace() {
        let text = "{" + (0...JSONParser.maximumMembers).map { "\"k\($0)\":0" }.joined(separator: ",") + "}"
        XCTAssertThrowsError(try JSONParser.parse(text)) { error in
            XCTAssertTrue("\(error)".contains("more than \(JSONParser.maximumMembers) members"), "\(error)")
        }
    }
}

/// YAML from a file or the admin API: no alias is expanded, and size is bounded.
final class HostileYAMLTests: XCTestCase {
    func testAnAliasIsRefusedAtItsPlace() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
              count: &five 5
            transforms:
              - type: shape
                factor: *five
                label: x
            sinks:
              - type: discard
            """)
        XCTAssertTrue(result.diagnostics.contains { $0.message.contains("aliases (*name) are not supported") }, describe(result.diagnostics))
        XCTAssertNil(result.pipeline)
    }

    func testAnAliasBombIsRefusedWithoutExpandingIt() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...12 {
            let previous = "*a\(level - 1)"
            lines.append("a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]")
        }
        let text = "name: bomb\n" + lines.joined(separator: "\n") + "\n"
        let started = ContinuousClock.now
        let result = loadPipeline(yaml: text)
        XCTAssertTrue(result.diagnostics.contains { $0.message.contains("aliases (*name) are not supported") }, describe(result.diagnostics))
        // Ten to the thirteenth nodes expanded would never finish; refused, it takes no time at all.
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(30))
    }

    func testAFileOverTheSizeLimitIsRefused() {
        let text = "name: big\ndescription: " + String(repeating: "x", count: YAMLDocument.maximumBytes) + "\n"
        let result = loadPipeline(yaml: text)
        XCTAssertTrue(result.diagnostics.contains { $0.message.contains("at most \(YAMLDocument.maximumBytes)") }, describe(result.diagnostics))
    }
}

/// Param declarations are published: the environment may not put text into them.
final class PublishedDeclarationTests: XCTestCase {
    func testAStringDefaultCannotReadTheEnvironment() {
        let result = loadPipeline(yaml: """
            name: demo
            params:
              label: { type: string, default: "${env:HYPHAE_ADMIN_KEY:-x}" }
            source:
              type: counter
              count: 1
            transforms:
              - type: shape
                label: ${label}
            sinks:
              - type: discard
            """, environment: ["HYPHAE_ADMIN_KEY": "secret"])
        XCTAssertNil(result.pipeline)
        XCTAssertTrue(result.diagnostics.contains { $0.message.contains("cannot read the environment") && $0.field == "params.label.default" }, describe(result.diagnostics))
        XCTAssertFalse(describe(result.diagnostics).contains("secret"), "the value is never echoed")
    }

    func testANumberDefaultMayStillComeFromTheEnvironment() throws {
        let pipeline = try requirePipeline(loadPipeline(yaml: """
            name: demo
            params:
              n: { type: int, default: "${env:HYPHAE_N:-5}", min: 1 }
            source:
              type: counter
              count: ${n}
            sinks:
              - type: discard
            """, environment: ["HYPHAE_N": "7"]))
        XCTAssertEqual(pipeline.param(named: "n")?.defaultValue, .int(7))
    }
}
