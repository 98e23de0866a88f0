import XCTest

@testable import MFN

final class ParameterValidationTests: XCTestCase {
    func testDefaultsAreValid() {
        XCTAssertEqual(FieldParameters().validate(), [])
    }

    func testAlphaAtOrAboveTheStabilityLimitIsRefusedWithTheReason() {
        XCTAssertEqual(FieldParameters(alpha: 0.3).validate(), [
            "alpha 0.3 is at or above 0.25, where the explicit Euler step of the 5-point Laplacian is unstable "
                + "(it needs 4·alpha < 1); use a value in 0.05..<0.25"
        ])
        XCTAssertEqual(FieldParameters(alpha: 0.25).validate().count, 1)
        XCTAssertEqual(FieldParameters(alpha: 0.2499).validate(), [])
    }

    func testAlphaBelowTheFloorIsRefusedWithTheReason() {
        let problems = FieldParameters(alpha: 0.01).validate()
        XCTAssertEqual(problems.count, 1)
        XCTAssertTrue(problems[0].hasPrefix("alpha 0.01 is below 0.05"), problems[0])
        XCTAssertTrue(problems[0].contains("0.05..<0.25"), problems[0])
        XCTAssertEqual(FieldParameters(alpha: .nan).validate().count, 1)
    }

    func testOtherRanges() {
        XCTAssertEqual(FieldParameters(gridSize: 2).validate().count, 1)
        XCTAssertEqual(FieldParameters(spikeProbability: 1.5).validate().count, 1)
        XCTAssertEqual(FieldParameters(diffusionActivator: 0.25).validate().count, 1)
        XCTAssertEqual(FieldParameters(reactionInhibitor: -1).validate().count, 1)
        XCTAssertEqual(FieldParameters(jitterVariance: 0).validate().count, 1)
        XCTAssertEqual(FieldParameters(activityThreshold: .absolute(volts: .infinity)).validate().count, 1)
        XCTAssertEqual(FieldParameters(alpha: 1, spikeProbability: -1).validate().count, 2, "all problems are listed")
    }

    func testFieldRefusesInvalidParameters() {
        XCTAssertThrowsError(try MyceliumField(parameters: FieldParameters(alpha: 0.3), seed: 1)) { error in
            XCTAssertTrue(String(describing: error).contains("unstable"), "\(error)")
        }
        let state = HandMade.uniformState(gridSize: 8, potential: -0.07)
        XCTAssertThrowsError(try MyceliumField(parameters: FieldParameters(gridSize: 16), state: state, seed: 1))
    }
}
