/// Which cells count as active in the features.
public enum ActivityThreshold: Sendable, Equatable, Hashable {
    /// Active when `V > volts`.
    case absolute(volts: Double)
    /// Active when `V > mean(V) + volts`: depolarised relative to the field as a whole.
    case aboveFieldMean(volts: Double)

    /// Active when more than 0.5 mV above the field's mean potential.
    ///
    /// Why relative and why 0.5 mV: the model has no leak current, so every spike's charge stays in the
    /// field and the mean drifts up by about 1.2 µV per step on 64×64 (≈ +5 mV every 4000 steps), while
    /// Turing never fires with the default rates (on `a = h` the reaction term is `-a²`, so `a` decays
    /// from its ≤ 0.1 start and never nears 0.75). Any fixed voltage is therefore crossed by the whole
    /// field sooner or later: with -65 mV the set is empty for thousands of steps and then everything;
    /// with -69 mV it is everything from step ≈ 1700 on. Sampled every 10 steps over 10 000 default steps
    /// on 64×64 with 8 seeds, "0.5 mV above the mean" was full in no sample and empty in 0.7 % (quiet
    /// spells between spikes); the active count's median was 54 (5–95 %: 14–117) and the fractal
    /// dimension moved between 0.42 and 0.96 (5–95 %) as spikes spread and faded. 0.25 mV lets the
    /// field's own ripples in (hundreds of cells), 1 mV is empty in 10 % of samples. See NOTES.md.
    public static let standard = ActivityThreshold.aboveFieldMean(volts: 0.0005)
}

/// Everything that shapes a field's evolution. Values outside the stable or meaningful ranges are
/// reported by `validate()`, and a field refuses to be built from them.
public struct FieldParameters: Sendable, Equatable, Hashable {
    /// Side of the square grid, in cells.
    public var gridSize: Int
    /// Diffusion coefficient of the potential (dt = dx = 1).
    public var alpha: Double
    /// Chance per step that one uniformly chosen cell receives a growth event (a spike).
    public var spikeProbability: Double
    public var turingEnabled: Bool
    /// `V += turingBoostVolts` where the new activator exceeds this.
    public var turingThreshold: Double
    /// `d_a`
    public var diffusionActivator: Double
    /// `d_h`
    public var diffusionInhibitor: Double
    /// `r_a`
    public var reactionActivator: Double
    /// `r_h`
    public var reactionInhibitor: Double
    /// Variance (V²) of the per-cell Gaussian jitter added each step; `nil` turns jitter off.
    /// The noise's standard deviation is `sqrt(jitterVariance)`: the default 0.0005 V² is ≈ 22 mV.
    public var jitterVariance: Double?
    public var activityThreshold: ActivityThreshold

    public static let defaultJitterVariance = 0.0005
    public static let stableAlphaRange = 0.05..<0.25
    public static let stableDiffusionRange = 0.0..<0.25
    public static let reactionRateRange = 0.0...1.0
    public static let gridSizeRange = 4...2048

    public init(
        gridSize: Int = 64,
        alpha: Double = 0.18,
        spikeProbability: Double = 0.25,
        turingEnabled: Bool = true,
        turingThreshold: Double = 0.75,
        diffusionActivator: Double = 0.1,
        diffusionInhibitor: Double = 0.05,
        reactionActivator: Double = 0.01,
        reactionInhibitor: Double = 0.02,
        jitterVariance: Double? = nil,
        activityThreshold: ActivityThreshold = .standard
    ) {
        self.gridSize = gridSize
        self.alpha = alpha
        self.spikeProbability = spikeProbability
        self.turingEnabled = turingEnabled
        self.turingThreshold = turingThreshold
        self.diffusionActivator = diffusionActivator
        self.diffusionInhibitor = diffusionInhibitor
        self.reactionActivator = reactionActivator
        self.reactionInhibitor = reactionInhibitor
        self.jitterVariance = jitterVariance
        self.activityThreshold = activityThreshold
    }

    /// Every problem with these parameters, each as a sentence that says why; empty when valid.
    public func validate() -> [String] {
        var problems: [String] = []
        let grids = Self.gridSizeRange
        if !grids.contains(gridSize) {
            problems.append("grid_size \(gridSize) is outside \(grids.lowerBound)...\(grids.upperBound)")
        }
        problems += Self.diffusionProblems(name: "alpha", value: alpha, range: Self.stableAlphaRange)
        if !(0.0...1.0).contains(spikeProbability) {
            problems.append("spike_probability \(spikeProbability) is not a probability; use a value in 0...1")
        }
        if !turingThreshold.isFinite {
            problems.append("turing_threshold \(turingThreshold) is not a finite number")
        }
        problems += Self.diffusionProblems(name: "d_a", value: diffusionActivator, range: Self.stableDiffusionRange)
        problems += Self.diffusionProblems(name: "d_h", value: diffusionInhibitor, range: Self.stableDiffusionRange)
        for (name, rate) in [("r_a", reactionActivator), ("r_h", reactionInhibitor)]
        where !Self.reactionRateRange.contains(rate) {
            problems.append(
                "\(name) \(rate) is outside 0...1: a larger explicit reaction step overshoots instead of relaxing")
        }
        if let jitterVariance, !(jitterVariance.isFinite && jitterVariance > 0) {
            problems.append("jitter_var \(jitterVariance) must be a positive finite variance (V²), or jitter turned off")
        }
        switch activityThreshold {
        case .absolute(let volts), .aboveFieldMean(let volts):
            if !volts.isFinite {
                problems.append("activity threshold \(volts) V is not a finite number")
            }
        }
        return problems
    }

    private static func diffusionProblems(name: String, value: Double, range: Range<Double>) -> [String] {
        let bounds = "use a value in \(range.lowerBound)..<\(range.upperBound)"
        if value.isNaN {
            return ["\(name) is not a number; \(bounds)"]
        }
        if value >= range.upperBound {
            return [
                "\(name) \(value) is at or above \(range.upperBound), where the explicit Euler step of the "
                    + "5-point Laplacian is unstable (it needs 4·\(name) < 1); \(bounds)"
            ]
        }
        if value < range.lowerBound {
            let why = range.lowerBound > 0
                ? "so little diffusion that spikes stay isolated points and the field barely evolves"
                : "negative diffusion amplifies every ripple and blows up"
            return ["\(name) \(value) is below \(range.lowerBound): \(why); \(bounds)"]
        }
        return []
    }
}

/// Parameters that `validate()` rejected.
public struct InvalidFieldParameters: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [String]
    public var description: String { "invalid field parameters: " + problems.joined(separator: "; ") }
}
