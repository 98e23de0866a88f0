import HyphaeCore
import XCTest

@testable import MFN

final class SimulationSourceTests: XCTestCase {
    // MARK: Configuration

    func testDefaultsMatchTheProtocol() throws {
        let configuration = try validConfiguration(SimulationSource.Configuration.self, "")
        XCTAssertEqual(configuration.field.seed, 42)
        XCTAssertEqual(configuration.field.parameters.gridSize, 64)
        XCTAssertEqual(configuration.field.parameters.alpha, 0.18)
        XCTAssertEqual(configuration.field.parameters.spikeProbability, 0.25)
        XCTAssertTrue(configuration.field.parameters.turingEnabled)
        XCTAssertEqual(configuration.field.parameters.activityThreshold, .standard)
        XCTAssertNil(configuration.field.parameters.jitterVariance)
        XCTAssertEqual(configuration.steps, 64)
        XCTAssertFalse(configuration.includeFullState)
        XCTAssertEqual(configuration.stepsPerSecond, 0)
        XCTAssertTrue(SimulationSource.isFinite(configuration))
    }

    func testAlphaAtTheStabilityLimitIsRejectedWithTheReason() throws {
        let (_, problems) = try readConfiguration(SimulationSource.Configuration.self, "alpha: 0.25")
        XCTAssertEqual(problems.count, 1, "\(problems)")
        let message = try XCTUnwrap(problems.first)
        XCTAssertTrue(message.contains("source.alpha"), message)
        XCTAssertTrue(message.contains("unstable"), message)
        XCTAssertTrue(message.contains("5-point Laplacian"), message)
        XCTAssertTrue(message.contains("0.05..<0.25"), message)
    }

    func testAlphaBelowTheUsefulRangeIsRejectedWithTheReason() throws {
        let (_, problems) = try readConfiguration(SimulationSource.Configuration.self, "alpha: 0.01")
        let message = try XCTUnwrap(problems.first)
        XCTAssertTrue(message.contains("below 0.05"), message)
        XCTAssertTrue(message.contains("barely evolves"), message)
    }

    func testAlphaJustBelowTheLimitIsAccepted() throws {
        let configuration = try validConfiguration(SimulationSource.Configuration.self, "alpha: 0.2499")
        XCTAssertEqual(configuration.field.parameters.alpha, 0.2499)
    }

    func testTuringDiffusionIsCheckedForStabilityToo() throws {
        let (_, problems) = try readConfiguration(SimulationSource.Configuration.self, "d_a: 0.3")
        let message = try XCTUnwrap(problems.first)
        XCTAssertTrue(message.contains("source.d_a") && message.contains("unstable"), message)
    }

    func testGridSizeBounds() throws {
        for (yaml, isValid) in [("grid_size: 7", false), ("grid_size: 8", true), ("grid_size: 256", true), ("grid_size: 257", false)] {
            let (_, problems) = try readConfiguration(SimulationSource.Configuration.self, yaml)
            XCTAssertEqual(problems.isEmpty, isValid, "\(yaml): \(problems)")
            if !isValid {
                XCTAssertTrue(problems[0].contains("from 8 to 256"), problems[0])
            }
        }
    }

    func testStepsAndOtherBounds() throws {
        for yaml in ["steps: 0", "steps: 1001", "seed: -1", "spike_probability: 1.5", "steps_per_second: -1"] {
            let (_, problems) = try readConfiguration(SimulationSource.Configuration.self, yaml)
            XCTAssertEqual(problems.count, 1, "\(yaml) should be refused: \(problems)")
        }
    }

    func testAnActivityLevelCanBeFixedButNotTogetherWithTheRelativeOne() throws {
        let fixed = try validConfiguration(SimulationSource.Configuration.self, "activity_threshold_mV: -65")
        XCTAssertEqual(fixed.field.parameters.activityThreshold, .absolute(volts: -0.065))
        let (_, problems) = try readConfiguration(
            SimulationSource.Configuration.self, "activity_threshold_mV: -65\nactivity_above_mean_mV: 1")
        XCTAssertEqual(problems.count, 1)
        XCTAssertTrue(problems[0].contains("not both"), problems[0])
    }

    // MARK: Frames

    func testFiveStepsGiveFiveStatesThenTheCompletion() async throws {
        let configuration = try validConfiguration(SimulationSource.Configuration.self, "steps: 5\ngrid_size: 16")
        var source = try SimulationSource(configuration: configuration, context: testContext)
        let frames = try await drain(&source)
        XCTAssertEqual(frames.map(\.type), Array(repeating: "simulation_state", count: 5) + ["simulation_complete"])
        XCTAssertEqual(frames.prefix(5).compactMap { $0.number("step") }, [1, 2, 3, 4, 5])
        XCTAssertEqual(frames.prefix(5).compactMap { $0.number("total_steps") }, Array(repeating: 5, count: 5))
        // Only the last state and the completion are essential: sample may drop the others.
        XCTAssertEqual(frames.map(\.delivery), Array(repeating: .droppable, count: 4) + [.essential, .essential])
        // Finished: later calls keep saying so.
        let afterEnd = try await source.next()
        XCTAssertNil(afterEnd)
    }

    func testStateShape() async throws {
        let configuration = try validConfiguration(SimulationSource.Configuration.self, "steps: 3\ngrid_size: 16\nspike_probability: 1")
        var source = try SimulationSource(configuration: configuration, context: testContext)
        let frames = try await drain(&source)
        let state = try XCTUnwrap(frames[0].payload["state"]?.objectValue)
        XCTAssertEqual(frames[0].payload.keys, ["step", "total_steps", "state", "metrics"])
        XCTAssertEqual(state.keys, ["pot_mean_mV", "pot_std_mV", "pot_min_mV", "pot_max_mV", "active_nodes"])
        XCTAssertEqual(frames[0].payload["metrics"]?.objectValue?.keys, ["growth_events"])
        // With a spike every step, growth events count up, as floats.
        XCTAssertEqual(frames.prefix(3).map { $0.payload["metrics"]?["growth_events"] }, [.double(1), .double(2), .double(3)])
        let mean = try XCTUnwrap(frames[0].number("state", "pot_mean_mV"))
        XCTAssertTrue((-95.0...40.0).contains(mean), "\(mean) mV")

        let complete = try XCTUnwrap(frames.last)
        let final = try XCTUnwrap(complete.payload["final_metrics"]?.objectValue)
        XCTAssertEqual(final.keys, ["growth_events", "pot_min_mV", "pot_max_mV", "pot_mean_mV", "pot_std_mV", "fractal_dimension"])
        XCTAssertEqual(final["growth_events"], .double(3))
        // The final metrics describe the field after the last step.
        XCTAssertEqual(final["pot_mean_mV"], frames[2].payload["state"]?["pot_mean_mV"])
    }

    func testFullStateCarriesTheFieldInVolts() async throws {
        let configuration = try validConfiguration(
            SimulationSource.Configuration.self, "steps: 2\ngrid_size: 12\ninclude_full_state: true")
        var source = try SimulationSource(configuration: configuration, context: testContext)
        let frames = try await drain(&source)
        let state = try XCTUnwrap(frames[1].payload["state"]?.objectValue)
        XCTAssertEqual(state["field_shape"], .array([.int(12), .int(12)]))
        guard case .numbers(let cells)? = state["field"] else {
            return XCTFail("the field should be packed numbers, found \(String(describing: state["field"]))")
        }
        XCTAssertEqual(cells.count, 144)
        XCTAssertTrue(cells.allSatisfy { MyceliumField.potentialRange.contains($0) })
        let mean = cells.reduce(0, +) / Double(cells.count)
        let fieldMean = try XCTUnwrap(state["field_mean"]?.numberValue)
        XCTAssertEqual(fieldMean, mean, accuracy: 1e-12)
        let meanMillivolts = try XCTUnwrap(state["pot_mean_mV"]?.numberValue)
        XCTAssertEqual(meanMillivolts, fieldMean * 1000, accuracy: 1e-9)
        // Consecutive fields differ: the simulation evolves.
        XCTAssertNotEqual(frames[0].payload["state"]?["field"], frames[1].payload["state"]?["field"])
    }

    func testWithoutFullStateNoFieldIsSent() async throws {
        let configuration = try validConfiguration(SimulationSource.Configuration.self, "steps: 1\ngrid_size: 8")
        var source = try SimulationSource(configuration: configuration, context: testContext)
        let state = try await source.next()?.payload["state"]?.objectValue
        XCTAssertNil(state?["field"])
        XCTAssertNil(state?["field_shape"])
    }

    func testTheSameSeedGivesTheSamePayloadsAndAnotherSeedDoesNot() async throws {
        func payloads(seed: Int) async throws -> [JSONObject] {
            let configuration = try validConfiguration(
                SimulationSource.Configuration.self, "steps: 20\ngrid_size: 16\nseed: \(seed)\ninclude_full_state: true")
            var source = try SimulationSource(configuration: configuration, context: testContext)
            return try await drain(&source).map(\.payload)
        }
        let first = try await payloads(seed: 7)
        let again = try await payloads(seed: 7)
        let other = try await payloads(seed: 8)
        XCTAssertEqual(first, again)
        XCTAssertNotEqual(first, other)
    }

    func testConsecutiveStatesDiffer() async throws {
        let configuration = try validConfiguration(SimulationSource.Configuration.self, "steps: 10\ngrid_size: 32")
        var source = try SimulationSource(configuration: configuration, context: testContext)
        let states = try await drain(&source).dropLast().map { $0.payload["state"] }
        for (earlier, later) in zip(states, states.dropFirst()) {
            XCTAssertNotEqual(earlier, later)
        }
    }

    func testPacingSpacesTheSteps() async throws {
        let configuration = try validConfiguration(
            SimulationSource.Configuration.self, "steps: 4\ngrid_size: 8\nsteps_per_second: 50")
        var source = try SimulationSource(configuration: configuration, context: testContext)
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { _ = try await drain(&source) }
        // Four steps 20 ms apart, the first at once: at least 60 ms.
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(59))
    }

    func testCancellationStopsTheRun() async throws {
        let configuration = try validConfiguration(SimulationSource.Configuration.self, "steps: 1000\ngrid_size: 8")
        let task = Task {
            var source = try SimulationSource(configuration: configuration, context: testContext)
            withUnsafeCurrentTask { $0?.cancel() }
            return try await source.next()
        }
        do {
            _ = try await task.value
            XCTFail("a cancelled run should throw")
        } catch is CancellationError {}
    }

    func testADivergedFieldBecomesAStageErrorThatSaysWhatHappened() {
        let error = FieldDiverged(step: 12).stageError
        XCTAssertTrue(error.description.contains("diverged at step 12"), error.description)
        XCTAssertTrue(error.description.contains("cannot continue"), error.description)
    }
}
