import HyphaeCore
import XCTest

/// The conditions a pipeline test states about values and frames (Docs/TESTING_PIPELINES.md).
final class PipelineTestMatcherTests: XCTestCase {
    func testEqualsComparesNumbersByValueAndEverythingElseExactly() {
        XCTAssertTrue(ValueMatcher(equals: 3).matches(3.0))
        XCTAssertTrue(ValueMatcher(equals: 3.0).matches(3))
        XCTAssertFalse(ValueMatcher(equals: 3).matches("3"))
        XCTAssertFalse(ValueMatcher(equals: "tick").matches("Tick"))
        XCTAssertTrue(ValueMatcher(equals: [1, 2]).matches(.numbers([1, 2])))
        XCTAssertFalse(ValueMatcher(equals: [1, 2]).matches([1, 2, 3]))
        XCTAssertTrue(ValueMatcher(equals: ["a": 1, "b": [true]]).matches(["b": [true], "a": 1.0]), "members in any order")
        XCTAssertFalse(ValueMatcher(equals: ["a": 1]).matches(["a": 1, "b": 2]), "no member more")
        XCTAssertFalse(ValueMatcher(equals: .null).matches(nil), "a field that is absent is not null")
        XCTAssertTrue(ValueMatcher(equals: .null).matches(.null))
    }

    func testToleranceAppliesToEveryNumberInside() {
        let close = ValueMatcher(equals: ["x": [1.0, 2.0]], tolerance: 0.01)
        XCTAssertTrue(close.matches(["x": [1.005, 1.995]]))
        XCTAssertFalse(close.matches(["x": [1.005, 2.02]]))
        XCTAssertEqual(ValueMatcher(equals: 0.5, tolerance: 0.01).expectationText, "0.5 ± 0.01")
    }

    func testBoundsKindsLengthsAndPresence() {
        let ratio = ValueMatcher(minimum: 0, maximum: 1, kind: .float)
        XCTAssertTrue(ratio.matches(0.25))
        XCTAssertFalse(ratio.matches(1), "an int is not a float")
        XCTAssertFalse(ratio.matches(1.5))
        XCTAssertFalse(ratio.matches("0.5"), "bounds need a number")
        XCTAssertEqual(ratio.expectationText, "from 0 to 1, a float")
        XCTAssertEqual(ratio.actualText("0.5"), #""0.5" (a string)"#)

        XCTAssertTrue(ValueMatcher(kind: .number).matches(1))
        XCTAssertTrue(ValueMatcher(kind: .list, length: 3).matches(.numbers([1, 2, 3])))
        XCTAssertTrue(ValueMatcher(length: 2).matches(["a": 1, "b": 2]))
        XCTAssertTrue(ValueMatcher(length: 4).matches("tick"))
        XCTAssertFalse(ValueMatcher(length: 4).matches(4), "a number has no length")
        XCTAssertEqual(ValueMatcher(length: 4).actualText(4), "4 (without a length)")

        XCTAssertTrue(ValueMatcher(exists: true).matches(.null))
        XCTAssertFalse(ValueMatcher(exists: true).matches(nil))
        XCTAssertTrue(ValueMatcher(exists: false).matches(nil))
        XCTAssertFalse(ValueMatcher(exists: false).matches(0))
        XCTAssertEqual(ValueMatcher(exists: false).expectationText, "absent")
        XCTAssertEqual(ValueMatcher(exists: true).actualText(nil), "absent")
        XCTAssertFalse(ValueMatcher(minimum: 0).matches(nil), "every condition but exists: false needs the field")
    }

    func testAFrameCheckComparesOnlyWhatItNamesAndFollowsPathsIntoListsAndObjects() {
        let location = SourceLocation(file: "t.test.yaml", line: 1, column: 1)
        let check = FrameMatcher(
            location: location, field: "cases[0].expect.last", type: ValueMatcher(equals: "state"), essential: true,
            payload: [
                .init(path: ["state", "shape", "1"], matcher: ValueMatcher(equals: 16)),
                .init(path: ["state", "mean"], matcher: ValueMatcher(minimum: 0)),
            ])
        let frame = Frame(type: "state", timestamp: 0, payload: ["step": 3, "state": ["shape": [16, 16], "mean": -1.5]], delivery: .essential)
        let comparison = check.compare(frame)
        XCTAssertFalse(comparison.matches)
        XCTAssertEqual(comparison.diffLines, [
            #"  type: "state""#,
            "  essential: true",
            "  payload.state.shape.1: 16",
            "- payload.state.mean: of at least 0",
            "+ payload.state.mean: -1.5",
        ])
        XCTAssertTrue(FrameMatcher(location: location, field: "f", payload: [.init(path: ["state", "shape", "2"], matcher: ValueMatcher(exists: false))]).compare(frame).matches)
        XCTAssertFalse(FrameMatcher(location: location, field: "f", onlyType: "other").applies(to: frame))
    }
}
