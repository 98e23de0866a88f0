import HyphaeCore

/// A finite mycelium-field run: one `simulation_state` frame per step, then `simulation_complete`.
///
/// The last `simulation_state` and the `simulation_complete` frame are essential, so that a `sample`
/// transform (`update_interval_steps`) always passes the final step and the end of the run.
public struct SimulationSource: SourceStage {
    public struct Configuration: StageConfiguration {
        public var field: FieldSettings
        public var steps: Int
        public var includeFullState: Bool
        /// Steps per second; 0 runs as fast as the sinks take the frames.
        public var stepsPerSecond: Double

        public static let stepsRange = 1...1000

        public init(reading config: inout ConfigReader) {
            field = FieldSettings(reading: &config)
            steps = config.int("steps", default: 64, min: Self.stepsRange.lowerBound, max: Self.stepsRange.upperBound, summary: "steps to simulate before simulation_complete")
            includeFullState = config.bool(
                "include_full_state", default: false,
                summary: "adds field_shape, field_mean (V) and the field itself (V, row-major) to every state")
            stepsPerSecond = config.double(
                "steps_per_second", default: 0, min: 0, max: 100_000,
                summary: "paces the run; 0 steps as fast as the sinks take the frames")
        }
    }

    public static let stageType = "simulation"
    public static let summary = "a finite reaction-diffusion mycelium field run: simulation_state per step, then simulation_complete"

    public static func isFinite(_ configuration: Configuration) -> Bool { true }

    /// Unpaced runs give the scheduler a turn this often, so a long run on a large grid does not hold a thread.
    static let stepsBetweenYields = 8

    private let configuration: Configuration
    private var field: MyceliumField
    private var pacer: Pacer<ContinuousClock>
    private var completed = false

    public init(configuration: Configuration, context: StageContext) throws {
        self.configuration = configuration
        field = try configuration.field.makeField()
        pacer = Pacer(framesPerSecond: configuration.stepsPerSecond, ticksBetweenYields: Self.stepsBetweenYields)
    }

    public mutating func next() async throws -> Frame? {
        try Task.checkCancellation()
        let totalSteps = configuration.steps
        if field.stepCount >= totalSteps {
            guard !completed else { return nil }
            completed = true
            return completionFrame()
        }
        try await pacer.waitForNextTick()
        do {
            try field.step()
        } catch {
            throw error.stageError
        }
        return stateFrame(isLast: field.stepCount == totalSteps)
    }

    private mutating func stateFrame(isLast: Bool) -> Frame {
        let features = field.features()
        var state = JSONObject(minimumCapacity: configuration.includeFullState ? 8 : 5)
        state.append("pot_mean_mV", .double(features.potMeanMV))
        state.append("pot_std_mV", .double(features.potStdMV))
        state.append("pot_min_mV", .double(features.potMinMV))
        state.append("pot_max_mV", .double(features.potMaxMV))
        state.append("active_nodes", .int(features.activeNodes))
        if configuration.includeFullState {
            let side = field.gridSize
            state.append("field_shape", .array([.int(side), .int(side)]))
            state.append("field_mean", .double(field.fieldMean))
            state.append("field", .numbers(field.potentials))
        }
        var metrics = JSONObject(minimumCapacity: 1)
        metrics.append("growth_events", .double(Double(field.growthEvents)))
        var payload = JSONObject(minimumCapacity: 4)
        payload.append("step", .int(field.stepCount))
        payload.append("total_steps", .int(configuration.steps))
        payload.append("state", .object(state))
        payload.append("metrics", .object(metrics))
        return Frame(type: "simulation_state", payload: payload, delivery: isLast ? .essential : .droppable)
    }

    private mutating func completionFrame() -> Frame {
        let features = field.features()
        var metrics = JSONObject(minimumCapacity: 6)
        metrics.append("growth_events", .double(Double(field.growthEvents)))
        metrics.append("pot_min_mV", .double(features.potMinMV))
        metrics.append("pot_max_mV", .double(features.potMaxMV))
        metrics.append("pot_mean_mV", .double(features.potMeanMV))
        metrics.append("pot_std_mV", .double(features.potStdMV))
        metrics.append("fractal_dimension", .double(features.fractalDimension))
        var payload = JSONObject(minimumCapacity: 1)
        payload.append("final_metrics", .object(metrics))
        return Frame(type: "simulation_complete", payload: payload, delivery: .essential)
    }
}
