import XCTest

@testable import MFN

final class FieldFeaturesTests: XCTestCase {
    private func measure(_ values: [Double], side: Int, activity: ActivityThreshold) -> FieldFeatures {
        values.withUnsafeBufferPointer { FieldFeatures.measure($0, side: side, activity: activity) }
    }

    func testStatisticsInMillivoltsAndEnergyInVolts() {
        let values = [-0.070, -0.060, -0.080, -0.070, -0.050, -0.070, -0.070, -0.070, -0.070,
                      -0.070, -0.070, -0.070, -0.070, -0.070, -0.070, -0.070]
        let features = measure(values, side: 4, activity: .absolute(volts: -0.065))
        let mean = values.reduce(0, +) / 16
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 16
        XCTAssertEqual(features.potMeanMV, mean * 1000, accuracy: 1e-12)
        XCTAssertEqual(features.potStdMV, variance.squareRoot() * 1000, accuracy: 1e-12)
        XCTAssertEqual(features.potMinMV, -80, accuracy: 1e-12)
        XCTAssertEqual(features.potMaxMV, -50, accuracy: 1e-12)
        XCTAssertEqual(features.totalEnergy, values.map { $0 * $0 }.reduce(0, +), accuracy: 1e-15)
        XCTAssertEqual(features.activeNodes, 2, "-60 and -50 mV are above -65 mV")
        XCTAssertEqual(features.activityRatio, 2.0 / 16)
    }

    func testActivityAboveTheFieldMean() {
        let values = (0..<16).map { $0 == 6 ? -0.040 : -0.070 }
        let features = measure(values, side: 4, activity: .aboveFieldMean(volts: 0.0005))
        XCTAssertEqual(features.activeNodes, 1)
        XCTAssertEqual(measure(values, side: 4, activity: .aboveFieldMean(volts: 0.05)).activeNodes, 0)
    }

    func testSpatialVarianceFollowsNumpyGradient() {
        // f(r, c) = 3r² + c (volts): numpy.gradient gives gy = 6r inside and one-sided differences
        // 3 (top) and 3·(2·5 − 1) = 27 (bottom) on a 6-row grid, and gx = 1 everywhere.
        let side = 6
        let values = (0..<(side * side)).map { index -> Double in
            let (row, column) = (Double(index / side), Double(index % side))
            return 3 * row * row + column
        }
        let gy: [Double] = [3, 6, 12, 18, 24, 27]
        let expected = gy.map { ($0 * $0 + 1) * Double(side) }.reduce(0, +) / Double(side * side)
        XCTAssertEqual(measure(values, side: side, activity: .absolute(volts: 0)).spatialVariance, expected, accuracy: 1e-9)
    }

    func testOddSidesAreMeasuredLikeEvenOnes() {
        for side in [5, 7, 9] {
            let values = (0..<(side * side)).map { Double(($0 * 37) % 11) * 0.001 - 0.07 }
            let features = measure(values, side: side, activity: .absolute(volts: -0.065))
            let mean = values.reduce(0, +) / Double(values.count)
            XCTAssertEqual(features.potMeanMV, mean * 1000, accuracy: 1e-12)
            XCTAssertEqual(features.potMaxMV, (values.max() ?? 0) * 1000, accuracy: 1e-12)
            XCTAssertEqual(features.activeNodes, values.filter { $0 > -0.065 }.count)
        }
    }

    func testWireNamesAndOrder() {
        let names = FieldFeatures(
            potMeanMV: 0, potStdMV: 0, potMinMV: 0, potMaxMV: 0, activeNodes: 0, activityRatio: 0,
            fractalDimension: 0, totalEnergy: 0, spatialVariance: 0
        ).namedValues.map(\.key)
        XCTAssertEqual(names, [
            "pot_mean_mV", "pot_std_mV", "pot_min_mV", "pot_max_mV", "active_nodes", "activity_ratio",
            "fractal_dimension", "total_energy", "spatial_variance",
        ])
    }
}
