import XCTest

@testable import MFN

final class StepUpdateTests: XCTestCase {
    /// V = -70 mV + (4·row + column) mV on a 4×4 grid, so every neighbour is distinguishable.
    private let rampState: FieldState = {
        let potentials = (0..<16).map { -0.070 + Double($0) * 0.001 }
        return FieldState(
            gridSize: 4, potentials: potentials,
            activator: Array(repeating: 0, count: 16), inhibitor: Array(repeating: 0, count: 16))
    }()

    func testLaplacianWrapsAroundEveryEdge() throws {
        var field = try HandMade.field(HandMade.parameters(alpha: 0.1), rampState)
        try field.step()
        let v = rampState.potentials
        // Corner (0,0): up is (3,0) = 12, down (1,0) = 4, left (0,3) = 3, right (0,1) = 1 (mV above -70).
        let cornerLaplacian = (((v[12] + v[4]) + v[3]) + v[1]) - 4.0 * v[0]
        XCTAssertEqual(cornerLaplacian, 0.020, accuracy: 1e-15)
        XCTAssertEqual(field.potentials[0], v[0] + 0.1 * cornerLaplacian)
        // Far corner (3,3): up (2,3) = 11, down (0,3) = 3, left (3,2) = 14, right (3,0) = 12.
        let farLaplacian = (((v[11] + v[3]) + v[14]) + v[12]) - 4.0 * v[15]
        XCTAssertEqual(farLaplacian, -0.020, accuracy: 1e-15)
        XCTAssertEqual(field.potentials[15], v[15] + 0.1 * farLaplacian)
        // Interior (1,1): a linear ramp has no curvature away from the wrap.
        XCTAssertEqual(field.potentials[5], v[5], accuracy: 1e-15)
        XCTAssertEqual(field.potentials, NaiveModel.step(rampState, field.parameters, spike: nil).potentials)
    }

    func testDiffusionConservesTheMeanOnAPeriodicGrid() throws {
        var field = try HandMade.field(HandMade.parameters(alpha: 0.2), rampState)
        let before = field.fieldMean
        try field.step()
        XCTAssertEqual(field.fieldMean, before, accuracy: 1e-15)
    }

    func testSpikeAddsItsDrawnAmountBeforeDiffusion() throws {
        let parameters = HandMade.parameters(gridSize: 8, alpha: 0.05, spikeProbability: 1)
        let state = HandMade.uniformState(gridSize: 8, potential: -0.070)
        var field = try HandMade.field(parameters, state)
        let event = try XCTUnwrap(try field.step(), "probability 1 always spikes")
        XCTAssertEqual(field.growthEvents, 1)
        XCTAssertTrue((0..<64).contains(event.cell))
        XCTAssertEqual(event.amountVolts, 0.02, accuracy: 0.03, "Normal(20 mV, 5 mV) is within 6σ")
        XCTAssertEqual(field.potentials, NaiveModel.step(state, parameters, spike: event).potentials)
        // The spiked cell keeps (1 − 4·alpha) of the spike and each neighbour gets alpha of it.
        XCTAssertEqual(field.potentials[event.cell], -0.070 + 0.8 * event.amountVolts, accuracy: 1e-15)
        let row = event.cell / 8
        let column = event.cell % 8
        let rightNeighbour = row * 8 + (column + 1) % 8
        XCTAssertEqual(field.potentials[rightNeighbour], -0.070 + 0.05 * event.amountVolts, accuracy: 1e-15)
    }

    func testNoSpikeAtProbabilityZero() throws {
        var field = try HandMade.field(HandMade.parameters(), HandMade.uniformState(gridSize: 4, potential: -0.07))
        for _ in 0..<50 {
            XCTAssertNil(try field.step())
        }
        XCTAssertEqual(field.growthEvents, 0)
        XCTAssertEqual(field.potentials, Array(repeating: -0.07, count: 16))
    }

    func testTuringUpdateFormulasAndPotentialBoost() throws {
        let parameters = HandMade.parameters(turingEnabled: true)
        // Uniform fields have no Laplacian, so only the reaction terms act.
        var field = try HandMade.field(
            parameters, HandMade.uniformState(gridSize: 4, potential: -0.070, activator: 0.8, inhibitor: 0.1))
        try field.step()
        let expectedA = 0.8 + 0.01 * ((0.8 * (1.0 - 0.8)) - 0.1)
        let expectedH = 0.1 + 0.02 * (0.8 - 0.1)
        XCTAssertEqual(field.activator[0], expectedA, accuracy: 1e-16)
        XCTAssertEqual(field.inhibitor[0], expectedH, accuracy: 1e-16)
        XCTAssertEqual(field.potentials[0], -0.070 + 0.005, accuracy: 1e-16, "a' > 0.75 adds 5 mV")

        var quiet = try HandMade.field(
            parameters, HandMade.uniformState(gridSize: 4, potential: -0.070, activator: 0.5, inhibitor: 0.1))
        try quiet.step()
        XCTAssertEqual(quiet.potentials[0], -0.070, "a' ≤ 0.75 leaves V alone")
    }

    func testTuringReadsOldValuesAndDiffusesBothSpecies() throws {
        var state = rampState
        state.activator = (0..<16).map { Double(($0 * 7) % 16) / 16 }
        state.inhibitor = (0..<16).map { Double(($0 * 5) % 16) / 20 }
        let parameters = HandMade.parameters(turingEnabled: true)
        var field = try HandMade.field(parameters, state)
        try field.step()
        let expected = NaiveModel.step(state, parameters, spike: nil)
        XCTAssertEqual(field.activator, expected.activator)
        XCTAssertEqual(field.inhibitor, expected.inhibitor)
        XCTAssertEqual(field.potentials, expected.potentials)
    }

    func testActivatorAndInhibitorAreClippedToTheUnitInterval() throws {
        var strongReaction = HandMade.parameters(turingEnabled: true)
        strongReaction.reactionActivator = 1
        // a' = 0.1 + (0.1·0.9 − 1) < 0 → 0.
        var low = try HandMade.field(
            strongReaction, HandMade.uniformState(gridSize: 4, potential: -0.07, activator: 0.1, inhibitor: 1))
        try low.step()
        XCTAssertEqual(low.activator[0], 0)
        // A state above 1 is brought back to 1, but compared with the threshold before the clip.
        let high = HandMade.uniformState(gridSize: 4, potential: -0.07, activator: 1.5, inhibitor: 1.2)
        var clipped = try HandMade.field(HandMade.parameters(turingEnabled: true), high)
        try clipped.step()
        XCTAssertEqual(clipped.activator[0], 1)
        XCTAssertEqual(clipped.inhibitor[0], 1)
        XCTAssertEqual(clipped.potentials[0], -0.065, accuracy: 1e-16)
    }

    func testPotentialsAreClippedToTheirRange() throws {
        let parameters = HandMade.parameters(turingEnabled: true)
        var top = try HandMade.field(
            parameters, HandMade.uniformState(gridSize: 4, potential: 0.039, activator: 0.9))
        try top.step()
        XCTAssertEqual(top.potentials, Array(repeating: 0.040, count: 16))
        var bottom = try HandMade.field(parameters, HandMade.uniformState(gridSize: 4, potential: -0.2))
        try bottom.step()
        XCTAssertEqual(bottom.potentials, Array(repeating: -0.095, count: 16))
    }

    func testJitterUsesTheSquareRootOfItsVarianceAsDeviation() throws {
        let state = HandMade.uniformState(gridSize: 64, potential: -0.070)
        var still = try HandMade.field(HandMade.parameters(gridSize: 64), state)
        try still.step()
        XCTAssertEqual(still.potentials, state.potentials, "jitter is off by default")

        var noisy = try HandMade.field(HandMade.parameters(gridSize: 64, jitterVariance: 1e-6), state)
        try noisy.step()
        let deviation = noisy.features().potStdMV / 1000
        XCTAssertEqual(deviation, 1e-3, accuracy: 0.05e-3, "variance 1e-6 V² is a 1 mV deviation")
        XCTAssertEqual(noisy.fieldMean, -0.070, accuracy: 0.1e-3)
    }

    func testJitterWithTuringIsReproducibleAndStaysInRange() throws {
        let parameters = FieldParameters(gridSize: 16, jitterVariance: FieldParameters.defaultJitterVariance)
        var first = try MyceliumField(parameters: parameters, seed: 4)
        var second = try MyceliumField(parameters: parameters, seed: 4)
        for _ in 0..<20 {
            try first.step()
            try second.step()
        }
        XCTAssertEqual(first.state, second.state)
        XCTAssertTrue(first.potentials.allSatisfy { MyceliumField.potentialRange.contains($0) })
        let spread = first.features().potStdMV
        XCTAssertGreaterThan(spread, 10, "a 22 mV jitter, clipped, keeps the field rough")
    }

    func testNonFinitePotentialEndsTheSimulation() throws {
        for poison in [Double.nan, .infinity, -.infinity] {
            var field = try HandMade.field(HandMade.parameters(gridSize: 8), HandMade.uniformState(gridSize: 8, potential: -0.07))
            try field.step()
            field.overwritePotential(atCell: 9, with: poison)
            XCTAssertThrowsError(try field.step()) { error in
                XCTAssertEqual(error as? FieldDiverged, FieldDiverged(step: 2), "\(poison)")
            }
            XCTAssertThrowsError(try field.step(), "a diverged field stays diverged") { error in
                XCTAssertEqual(error as? FieldDiverged, FieldDiverged(step: 2))
            }
        }
    }

    func testStateWithNonFiniteValuesIsRefused() {
        var state = HandMade.uniformState(gridSize: 4, potential: -0.07)
        state.activator[3] = .nan
        XCTAssertThrowsError(try HandMade.field(HandMade.parameters(), state)) { error in
            XCTAssertTrue(String(describing: error).contains("activator[3]"), "\(error)")
        }
    }
}
