import HyphaeCore
import HyphaeTesting

/// Frames shaped like the MFN streams (PROTOCOL.md), with values that drift the way
/// a running simulation's do: small random walks, a few constants, a 64×64 field
/// of potentials around -0.07 V.
struct MFNFrameFactory {
    static let fieldSide = 64

    private var random: SeededGenerator
    private var features: [(name: String, value: Double, step: Double)] = [
        ("pot_mean_mV", -70.1, 0.05),
        ("pot_std_mV", 2.3, 0.01),
        ("pot_min_mV", -78.3, 0.2),
        ("pot_max_mV", -62.1, 0.2),
        ("active_nodes", 4096.0, 0),
        ("activity_ratio", 1.0, 0),
        ("fractal_dimension", 1.87, 0.002),
        ("total_energy", 20.1, 0.03),
        ("spatial_variance", 4.7e-6, 2e-8),
    ]
    private var field: [Double]
    private var growthEvents = 0.0
    private(set) var step = 0
    let totalSteps: Int

    init(seed: UInt64, totalSteps: Int = 200) {
        var generator = SeededGenerator(seed: seed)
        field = (0..<(Self.fieldSide * Self.fieldSide)).map { _ in -0.07 + Double.random(in: -0.005...0.005, using: &generator) }
        random = generator
        self.totalSteps = totalSteps
    }

    /// Steps the simulation once: every feature and every cell moves a little.
    mutating func advance() {
        step += 1
        for index in features.indices where features[index].step > 0 {
            features[index].value += Double.random(in: -1...1, using: &random) * features[index].step
        }
        for index in field.indices {
            let moved = field[index] + Double.random(in: -0.0003...0.0003, using: &random)
            field[index] = min(max(moved, -0.075), -0.065)
        }
        if Double.random(in: 0..<1, using: &random) < 0.3 { growthEvents += 1 }
    }

    /// `feature_update`; `omitting` leaves features out, as a source does when one is unavailable.
    func featureUpdate(omitting omitted: Set<String> = []) -> Frame {
        var values = JSONObject(minimumCapacity: features.count)
        for feature in features where !omitted.contains(feature.name) {
            values.append(feature.name, .double(feature.value))
        }
        return Frame(type: "feature_update", timestamp: timestamp, payload: ["features": .object(values)])
    }

    /// `simulation_state` with the full field; `spikeEvents` adds a metric only some frames carry.
    func simulationState(spikeEvents: Int? = nil) -> Frame {
        var state = JSONObject()
        for name in ["pot_mean_mV", "pot_std_mV", "pot_min_mV", "pot_max_mV"] {
            state.append(name, .double(feature(name)))
        }
        state.append("active_nodes", .int(4096))
        state.append("field_shape", [.int(Self.fieldSide), .int(Self.fieldSide)])
        state.append("field_mean", .double(field.reduce(0, +) / Double(field.count)))
        state.append("field", .numbers(field))
        var metrics: JSONObject = ["growth_events": .double(growthEvents)]
        if let spikeEvents { metrics.append("spike_events", .int(spikeEvents)) }
        let payload: JSONObject = [
            "step": .int(step),
            "total_steps": .int(totalSteps),
            "state": .object(state),
            "metrics": .object(metrics),
        ]
        return Frame(type: "simulation_state", timestamp: timestamp, payload: payload)
    }

    func simulationComplete() -> Frame {
        var metrics: JSONObject = ["growth_events": .double(growthEvents)]
        for name in ["pot_min_mV", "pot_max_mV", "pot_mean_mV", "pot_std_mV", "fractal_dimension"] {
            metrics.append(name, .double(feature(name)))
        }
        return Frame(type: "simulation_complete", timestamp: timestamp, payload: ["final_metrics": .object(metrics)], delivery: .essential)
    }

    private var timestamp: Double { 1_764_756_000_123.4 + Double(step) * 100 }

    private func feature(_ name: String) -> Double {
        features.first { $0.name == name }?.value ?? 0
    }
}
