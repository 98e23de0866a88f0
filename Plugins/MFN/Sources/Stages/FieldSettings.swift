import HyphaeCore

/// The settings both MFN sources share: the seed and everything that shapes the field.
///
/// Ranges that the model's numerics impose (alpha and the Turing diffusion rates must stay below
/// 0.25, reaction rates within 0…1) are checked by the engine's own `FieldParameters.validate()`,
/// because its messages say why a value is refused; the reader's generic "expected a number from …"
/// would not.
public struct FieldSettings: Sendable, Equatable {
    public var seed: UInt64
    public var parameters: FieldParameters

    public static let gridSizeRange = 8...256
    public static let defaultSeed = 42

    public init(reading config: inout ConfigReader) {
        let seed = config.int("seed", default: Self.defaultSeed, min: 0, summary: "seeds the field's random numbers; the same seed gives the same frames")
        self.seed = UInt64(clamping: seed)
        var parameters = FieldParameters()
        parameters.gridSize = config.int(
            "grid_size", default: 64, min: Self.gridSizeRange.lowerBound, max: Self.gridSizeRange.upperBound,
            summary: "side of the square grid, in cells")
        parameters.alpha = Self.readStable(
            &config, "alpha", default: 0.18, range: FieldParameters.stableAlphaRange,
            summary: "diffusion rate of the potential; explicit Euler with the 5-point Laplacian is unstable at 0.25 and above"
        ) { $0.alpha = $1 }
        parameters.spikeProbability = config.double(
            "spike_probability", default: 0.25, min: 0, max: 1, summary: "chance per step of one growth event (a +20 mV spike in one random cell)")
        parameters.turingEnabled = config.bool("turing_enabled", default: true, summary: "couples an activator–inhibitor (Turing) pair to the potential")
        parameters.turingThreshold = config.double(
            "turing_threshold", default: 0.75, min: 0, max: 1, summary: "the potential gets +5 mV where the new activator exceeds this")
        parameters.diffusionActivator = Self.readStable(
            &config, "d_a", default: 0.1, range: FieldParameters.stableDiffusionRange, summary: "activator diffusion rate"
        ) { $0.diffusionActivator = $1 }
        parameters.diffusionInhibitor = Self.readStable(
            &config, "d_h", default: 0.05, range: FieldParameters.stableDiffusionRange, summary: "inhibitor diffusion rate"
        ) { $0.diffusionInhibitor = $1 }
        parameters.reactionActivator = Self.readStable(
            &config, "r_a", default: 0.01, range: nil, summary: "activator reaction rate, 0 to 1"
        ) { $0.reactionActivator = $1 }
        parameters.reactionInhibitor = Self.readStable(
            &config, "r_h", default: 0.02, range: nil, summary: "inhibitor reaction rate, 0 to 1"
        ) { $0.reactionInhibitor = $1 }
        parameters.jitterVariance = config.optionalDouble(
            "jitter_var", min: 1e-12, max: 0.01,
            summary: "variance (V²) of Gaussian noise added to every cell each step; off when not set (0.0005 V² is a 22 mV deviation)")
        parameters.activityThreshold = Self.readActivityThreshold(&config)
        self.parameters = parameters
    }

    /// A number checked by the engine's validation of that one parameter. The range is declared to the
    /// reader only when describing the stage, so that `hyphae stages` lists it while a value outside it
    /// is reported once, in the engine's words.
    private static func readStable(
        _ config: inout ConfigReader, _ key: String, default fallback: Double, range: Range<Double>?, summary: String,
        assign: (inout FieldParameters, Double) -> Void
    ) -> Double {
        let value: Double
        if config.isDescribing, let range {
            value = config.double(key, default: fallback, min: range.lowerBound, below: range.upperBound, summary: summary)
        } else if config.isDescribing {
            value = config.double(key, default: fallback, min: 0, max: 1, summary: summary)
        } else {
            value = config.double(key, default: fallback, summary: summary)
        }
        var probe = FieldParameters()
        assign(&probe, value)
        let problems = probe.validate()
        if !problems.isEmpty {
            config.problem(key, problems.joined(separator: "; "))
            return fallback
        }
        return value
    }

    /// Relative to the field's mean by default (see `ActivityThreshold.standard` and Docs/MFN.md);
    /// an absolute level when `activity_threshold_mV` is set.
    private static func readActivityThreshold(_ config: inout ConfigReader) -> ActivityThreshold {
        let standardMillivolts: Double
        switch ActivityThreshold.standard {
        case .aboveFieldMean(let volts), .absolute(let volts): standardMillivolts = volts * 1000
        }
        let aboveMean = config.double(
            "activity_above_mean_mV", default: standardMillivolts, min: 0, max: 100,
            summary: "a cell is active when its potential is this many mV above the field's mean")
        let absolute = config.optionalDouble(
            "activity_threshold_mV", min: -95, max: 40,
            summary: "a fixed level instead: a cell is active above this potential, in mV")
        if let absolute {
            if config.contains("activity_above_mean_mV") {
                config.problem("activity_threshold_mV", "set either 'activity_above_mean_mV' (relative to the field's mean) or 'activity_threshold_mV' (a fixed level), not both")
            }
            return .absolute(volts: absolute / 1000)
        }
        return .aboveFieldMean(volts: aboveMean / 1000)
    }

    /// A fresh field from these settings. The reader has validated every value, so a failure here is
    /// an internal error, reported as a stage error rather than a crash.
    func makeField() throws -> MyceliumField {
        do {
            return try MyceliumField(parameters: parameters, seed: seed)
        } catch {
            throw StageError("cannot create the mycelium field: \(error)")
        }
    }
}

extension FieldDiverged {
    /// What subscribers read in `STREAM_ERROR`.
    var stageError: StageError {
        StageError("\(description); the simulation cannot continue (lower alpha or the Turing rates)")
    }
}
