/// A mycelium field: membrane potentials plus a Turing activator–inhibitor pair on a periodic square grid,
/// advanced by explicit Euler steps (dt = dx = 1). Seeded and reproducible; a step allocates nothing.
///
/// Each step, in order:
/// 1. with probability `spikeProbability`, one uniformly chosen cell gets `V += Normal(0.02, 0.005)`;
/// 2. `V += alpha · L(V)`;
/// 3. with Turing on, from the old `a`, `h`: `a' = a + d_a·L(a) + r_a·(a·(1−a) − h)`,
///    `h' = h + d_h·L(h) + r_h·(a − h)`; `V += 0.005` where `a' > turingThreshold`; then `a'`, `h'`
///    are clipped to [0, 1];
/// 4. with jitter on, `V += sqrt(jitterVariance) · Normal(0, 1)` per cell, drawn in row-major order;
/// 5. `V` is clipped to [-0.095, 0.040]; a NaN or an infinity ends the simulation (`FieldDiverged`).
///
/// `L(u)` is the periodic 5-point Laplacian, summed in this fixed order (no fused multiply-add), which
/// the NumPy reference repeats so both agree to the last bits: `(((up + down) + left) + right) − 4·u`,
/// where up is row − 1, down row + 1, left column − 1, right column + 1. The updates are evaluated as
/// `V + alpha·L`, `(a + d_a·L(a)) + r_a·((a·(1 − a)) − h)` and `(h + d_h·L(h)) + r_h·(a − h)`.
///
/// Random draws, all from one `FieldRandom` stream: at creation every `V` (row-major), then every `a`,
/// then every `h`; each step one uniform for the spike decision, and when it fires a cell index and a
/// normal; then the jitter normals.
///
/// Only `V` is checked for finiteness: `a` and `h` start finite, are clipped to [0, 1] every step and
/// are driven by validated, bounded coefficients, so they cannot diverge.
public struct MyceliumField: Sendable {
    public static let restingPotentialVolts = -0.070
    public static let initialPotentialSpreadVolts = 0.005
    public static let initialTuringUpperBound = 0.1
    public static let spikeMeanVolts = 0.02
    public static let spikeSpreadVolts = 0.005
    public static let turingBoostVolts = 0.005
    public static let potentialRange = -0.095...0.040

    /// The instruction set the engine's loops were compiled for (see `vectorTuning` in Package.swift).
    public static var vectorTarget: String {
        #if HYPHAE_VECTOR_TARGET_HASWELL
        return "x86-64 with AVX2 (-target-cpu haswell)"
        #else
        return "portable (compiler default)"
        #endif
    }

    public let parameters: FieldParameters
    public private(set) var stepCount = 0
    /// Spikes drawn so far.
    public private(set) var growthEvents = 0
    /// `V`, in volts, row-major. Holding on to this array across a step makes the next step copy it.
    public private(set) var potentials: [Double]
    public private(set) var activator: [Double]
    public private(set) var inhibitor: [Double]

    private var nextPotentials: [Double]
    private var nextActivator: [Double]
    private var nextInhibitor: [Double]
    private var random: FieldRandom
    /// Scratch for the box counting of `features()`, kept so that measuring allocates nothing.
    private var packedActiveRows: [UInt64]
    private var divergence: FieldDiverged?

    /// A field drawn from `seed`: `V ~ Normal(-0.070, 0.005)`, `a, h ~ Uniform(0, 0.1)`.
    public init(parameters: FieldParameters = FieldParameters(), seed: UInt64) throws(InvalidFieldParameters) {
        try Self.check(parameters)
        var random = FieldRandom(seed: seed)
        let cells = parameters.gridSize * parameters.gridSize
        let potentials = (0..<cells).map { _ in
            random.normal(mean: Self.restingPotentialVolts, standardDeviation: Self.initialPotentialSpreadVolts)
        }
        let activator = (0..<cells).map { _ in Self.initialTuringUpperBound * random.uniform() }
        let inhibitor = (0..<cells).map { _ in Self.initialTuringUpperBound * random.uniform() }
        self.init(
            validParameters: parameters,
            state: FieldState(
                gridSize: parameters.gridSize, potentials: potentials, activator: activator, inhibitor: inhibitor),
            random: random)
    }

    /// A field starting from a given state; `seed` drives its spikes and jitter.
    public init(parameters: FieldParameters, state: FieldState, seed: UInt64) throws(InvalidFieldParameters) {
        try Self.check(parameters)
        guard state.gridSize == parameters.gridSize else {
            throw InvalidFieldParameters(problems: [
                "the state is \(state.gridSize)×\(state.gridSize) but grid_size is \(parameters.gridSize)"
            ])
        }
        if let problem = state.problem() {
            throw InvalidFieldParameters(problems: [problem])
        }
        self.init(validParameters: parameters, state: state, random: FieldRandom(seed: seed))
    }

    private init(validParameters parameters: FieldParameters, state: FieldState, random: FieldRandom) {
        self.parameters = parameters
        self.random = random
        potentials = state.potentials
        activator = state.activator
        inhibitor = state.inhibitor
        nextPotentials = state.potentials
        nextActivator = state.activator
        nextInhibitor = state.inhibitor
        packedActiveRows = Array(repeating: 0, count: BoxCounting.packedWordCount(side: parameters.gridSize))
    }

    private static func check(_ parameters: FieldParameters) throws(InvalidFieldParameters) {
        let problems = parameters.validate()
        if !problems.isEmpty {
            throw InvalidFieldParameters(problems: problems)
        }
    }

    public var gridSize: Int { parameters.gridSize }

    public var state: FieldState {
        FieldState(gridSize: gridSize, potentials: potentials, activator: activator, inhibitor: inhibitor)
    }

    /// Mean potential, in volts.
    public var fieldMean: Double {
        potentials.withUnsafeBufferPointer { values in
            var sum = 0.0
            for value in values { sum += value }
            return sum / Double(values.count)
        }
    }

    /// Advances one step and returns the spike it drew, if any. Once the field has diverged, every
    /// further call throws the same error.
    @discardableResult
    public mutating func step() throws(FieldDiverged) -> GrowthEvent? {
        if let divergence {
            throw divergence
        }
        stepCount += 1
        let event = drawGrowthEvent()
        if let event {
            growthEvents += 1
            potentials[event.cell] += event.amountVolts
        }
        let finite = advanceFields()
        swap(&potentials, &nextPotentials)
        if parameters.turingEnabled {
            swap(&activator, &nextActivator)
            swap(&inhibitor, &nextInhibitor)
        }
        if !finite {
            let diverged = FieldDiverged(step: stepCount)
            divergence = diverged
            throw diverged
        }
        return event
    }

    /// All features of the current field. Mutating only because it reuses the field's scratch buffer
    /// for the box counts; the field itself does not change.
    public mutating func features() -> FieldFeatures {
        let (side, activity) = (gridSize, parameters.activityThreshold)
        return potentials.withUnsafeBufferPointer { values in
            packedActiveRows.withUnsafeMutableBufferPointer { rows in
                FieldFeatures.measure(values, side: side, activity: activity, packedRows: rows)
            }
        }
    }

    /// Lets tests plant values the public API refuses, such as a NaN.
    mutating func overwritePotential(atCell cell: Int, with value: Double) {
        potentials[cell] = value
    }

    private mutating func drawGrowthEvent() -> GrowthEvent? {
        guard random.uniform() < parameters.spikeProbability else { return nil }
        let cell = random.index(below: potentials.count)
        let amount = random.normal(mean: Self.spikeMeanVolts, standardDeviation: Self.spikeSpreadVolts)
        return GrowthEvent(cell: cell, amountVolts: amount)
    }

    /// Steps 2–5 from the current buffers into the next ones; false when `V` became non-finite.
    private mutating func advanceFields() -> Bool {
        let parameters = parameters
        let jitterDeviation = parameters.jitterVariance.map { $0.squareRoot() }
        var random = random
        defer { self.random = random }
        return potentials.withUnsafeBufferPointer { v in
            nextPotentials.withUnsafeMutableBufferPointer { nextV in
                activator.withUnsafeBufferPointer { a in
                    inhibitor.withUnsafeBufferPointer { h in
                        nextActivator.withUnsafeMutableBufferPointer { nextA in
                            nextInhibitor.withUnsafeMutableBufferPointer { nextH in
                                let kernel = StepKernel(
                                    parameters: parameters, v: v, a: a, h: h, nextV: nextV, nextA: nextA, nextH: nextH)
                                var finite = true
                                for row in 0..<parameters.gridSize {
                                    finite = kernel.advance(row: row, jitter: jitterDeviation, random: &random) && finite
                                }
                                return finite
                            }
                        }
                    }
                }
            }
        }
    }
}
