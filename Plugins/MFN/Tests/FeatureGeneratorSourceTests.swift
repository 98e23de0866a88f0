import HyphaeCore
import XCTest

@testable import MFN

final class FeatureGeneratorSourceTests: XCTestCase {
    func testDefaults() throws {
        let configuration = try validConfiguration(FeatureGeneratorSource.Configuration.self, "")
        XCTAssertEqual(configuration.updateIntervalMilliseconds, 100)
        XCTAssertEqual(configuration.stepsPerUpdate, 1)
        XCTAssertEqual(configuration.features.names, FeatureSelection.allNames)
        XCTAssertNil(configuration.features.significantDigits)
        XCTAssertFalse(FeatureGeneratorSource.isFinite(configuration))
    }

    func testAFeatureTypoIsRefusedWithASuggestion() throws {
        let (_, problems) = try readConfiguration(
            FeatureGeneratorSource.Configuration.self, "features: [pot_mean_mV, fractal_dimenson]")
        XCTAssertEqual(problems.count, 1, "\(problems)")
        XCTAssertTrue(problems[0].contains("'fractal_dimenson'"), problems[0])
        XCTAssertTrue(problems[0].contains("fractal_dimension"), problems[0])
        XCTAssertTrue(problems[0].lowercased().contains("did you mean"), problems[0])
    }

    func testAnEmptyFeatureListIsRefused() throws {
        let (_, problems) = try readConfiguration(FeatureGeneratorSource.Configuration.self, "features: []")
        XCTAssertEqual(problems.count, 1, "\(problems)")
        XCTAssertTrue(problems[0].contains("at least one feature"), problems[0])
    }

    func testIntervalBoundsAndSharedFieldChecks() throws {
        for yaml in ["update_interval_ms: 9", "update_interval_ms: 10001", "steps_per_update: 0", "alpha: 0.3", "grid_size: 512"] {
            let (_, problems) = try readConfiguration(FeatureGeneratorSource.Configuration.self, yaml)
            XCTAssertEqual(problems.count, 1, "\(yaml) should be refused: \(problems)")
        }
    }

    func testConsecutiveFramesDifferAndCarryEveryFeature() async throws {
        let configuration = try validConfiguration(
            FeatureGeneratorSource.Configuration.self, "update_interval_ms: 10\ngrid_size: 32")
        var source = try FeatureGeneratorSource(configuration: configuration, context: testContext)
        var frames: [Frame] = []
        for _ in 0..<4 {
            let frame = try await source.next()
            frames.append(try XCTUnwrap(frame))
        }
        XCTAssertEqual(Set(frames.map(\.type)), ["feature_update"])
        let features = frames.compactMap { $0.payload["features"]?.objectValue }
        XCTAssertEqual(features.count, 4)
        XCTAssertEqual(features[0].keys, FeatureSelection.allNames)
        XCTAssertTrue(features.allSatisfy { $0.members.allSatisfy { if case .double = $0.value { true } else { false } } })
        for (earlier, later) in zip(features, features.dropFirst()) {
            XCTAssertNotEqual(earlier, later)
        }
    }

    func testTheFeatureFilterKeepsTheStandardOrder() async throws {
        let configuration = try validConfiguration(
            FeatureGeneratorSource.Configuration.self,
            "update_interval_ms: 10\ngrid_size: 16\nfeatures: [fractal_dimension, pot_mean_mV]")
        var source = try FeatureGeneratorSource(configuration: configuration, context: testContext)
        let frame = try await source.next()
        XCTAssertEqual(frame?.payload["features"]?.objectValue?.keys, ["pot_mean_mV", "fractal_dimension"])
    }

    func testTheSameSeedGivesTheSameFeatures() async throws {
        func firstFrames(seed: Int) async throws -> [JSONValue?] {
            let configuration = try validConfiguration(
                FeatureGeneratorSource.Configuration.self, "update_interval_ms: 10\ngrid_size: 16\nseed: \(seed)")
            var source = try FeatureGeneratorSource(configuration: configuration, context: testContext)
            var features: [JSONValue?] = []
            for _ in 0..<3 { features.append(try await source.next()?.payload["features"]) }
            return features
        }
        let first = try await firstFrames(seed: 3)
        let again = try await firstFrames(seed: 3)
        let other = try await firstFrames(seed: 4)
        XCTAssertEqual(first, again)
        XCTAssertNotEqual(first, other)
    }

    func testRoundingKeepsFourSignificantDigits() async throws {
        let configuration = try validConfiguration(
            FeatureGeneratorSource.Configuration.self, "update_interval_ms: 10\ngrid_size: 16\nround_features: true")
        var source = try FeatureGeneratorSource(configuration: configuration, context: testContext)
        let frame = try await source.next()
        let features = try XCTUnwrap(frame?.payload["features"]?.objectValue)
        let rounder = try XCTUnwrap(SignificantDigitRounder(digits: 4))
        for (name, value) in features {
            let number = try XCTUnwrap(value.numberValue)
            XCTAssertEqual(number, rounder.rounded(number), name)
        }
    }

    func testTheUpdateIntervalPacesFramesWithoutDrift() async throws {
        let configuration = try validConfiguration(
            FeatureGeneratorSource.Configuration.self, "update_interval_ms: 20\ngrid_size: 8")
        var source = try FeatureGeneratorSource(configuration: configuration, context: testContext)
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for _ in 0..<6 { _ = try await source.next() }
        }
        // Six frames, the first at once, then every 20 ms: 100 ms by the deadlines.
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(99))
        XCTAssertLessThan(elapsed, .milliseconds(400), "a shared machine may be slow, but not this slow")
    }
}
