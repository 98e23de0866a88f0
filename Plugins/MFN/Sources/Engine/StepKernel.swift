/// Steps 2–5 of `MyceliumField.step()`, one row at a time from the current buffers into the next ones.
///
/// Each row is one pass that computes `a'`, `h'` and `V'` of a cell together (see `advanceRow`). Only
/// the first and last cell of a row wrap sideways and are done apart, so the interior loop has no
/// modulo and no branch. `a'` is compared with the Turing threshold before it is clipped, as the model
/// does, and the boost (5 mV or 0) is added to the diffused potential of the same cell.
struct StepKernel {
    private let side: Int
    private let alpha: Double
    private let turingEnabled: Bool
    private let diffusionActivator: Double
    private let diffusionInhibitor: Double
    private let reactionActivator: Double
    private let reactionInhibitor: Double
    private let turingThreshold: Double
    private let v: UnsafePointer<Double>
    private let a: UnsafePointer<Double>
    private let h: UnsafePointer<Double>
    private let nextV: UnsafeMutablePointer<Double>
    private let nextA: UnsafeMutablePointer<Double>
    private let nextH: UnsafeMutablePointer<Double>

    init(
        parameters: FieldParameters,
        v: UnsafeBufferPointer<Double>, a: UnsafeBufferPointer<Double>, h: UnsafeBufferPointer<Double>,
        nextV: UnsafeMutableBufferPointer<Double>, nextA: UnsafeMutableBufferPointer<Double>,
        nextH: UnsafeMutableBufferPointer<Double>
    ) {
        let cells = parameters.gridSize * parameters.gridSize
        precondition(
            v.count == cells && a.count == cells && h.count == cells && nextV.count == cells
                && nextA.count == cells && nextH.count == cells,
            "every buffer must hold gridSize² values")
        // Non-empty buffers (gridSize ≥ 4 is validated) always have a base address.
        guard let v = v.baseAddress, let a = a.baseAddress, let h = h.baseAddress,
            let nextV = nextV.baseAddress, let nextA = nextA.baseAddress, let nextH = nextH.baseAddress
        else { preconditionFailure("field buffers are empty") }
        side = parameters.gridSize
        alpha = parameters.alpha
        turingEnabled = parameters.turingEnabled
        diffusionActivator = parameters.diffusionActivator
        diffusionInhibitor = parameters.diffusionInhibitor
        reactionActivator = parameters.reactionActivator
        reactionInhibitor = parameters.reactionInhibitor
        turingThreshold = parameters.turingThreshold
        self.v = v
        self.a = a
        self.h = h
        self.nextV = nextV
        self.nextA = nextA
        self.nextH = nextH
    }

    /// Writes row `row` of the next buffers; false when a potential in it is not finite.
    @inline(__always)
    func advance(row: Int, jitter: Double?, random: inout FieldRandom) -> Bool {
        let rows = RowOffsets(row: row, side: side)
        // The flags passed on are literals, so that every combination gets its own branch-free loop.
        switch (turingEnabled, jitter) {
        case (true, nil):
            return advanceRow(rows, turing: true, clipping: true)
        case (false, nil):
            return advanceRow(rows, turing: false, clipping: true)
        case (true, let jitter?):
            _ = advanceRow(rows, turing: true, clipping: false)
            return jitterAndClip(rows, deviation: jitter, random: &random)
        case (false, let jitter?):
            _ = advanceRow(rows, turing: false, clipping: false)
            return jitterAndClip(rows, deviation: jitter, random: &random)
        }
    }

    private func jitterAndClip(_ rows: RowOffsets, deviation: Double, random: inout FieldRandom) -> Bool {
        let potentials = nextV + rows.here
        var nonFinite: UInt64 = 0
        for column in 0..<side {
            let value = potentials[column] + deviation * random.standardNormal()
            nonFinite |= PotentialClip.isNonFinite(value)
            potentials[column] = PotentialClip.clip(value)
        }
        return nonFinite == 0
    }

    /// One row of `a'`, `h'` (when `turing`) and `V'` in a single pass: each cell's activator decides
    /// its own potential's boost, so nothing is stored between two loops and each input row is read
    /// once. The interior goes four columns at a time in `SIMD4` lanes (one AVX register, or two SSE
    /// ones), then two, because the compiler will not vectorise a loop over nine input and three output
    /// pointers on its own (too many possible overlaps to check at run time); the lanes do exactly the
    /// scalar operations, in the same order, so the result is bit for bit the scalar one. The two
    /// wrapping edge columns, and an odd interior column left over, take the scalar path. When `clipping` is false the caller clips after jitter.
    @inline(__always)
    private func advanceRow(_ rows: RowOffsets, turing: Bool, clipping: Bool) -> Bool {
        let last = side - 1
        var nonFinite: UInt64 = 0
        nonFinite |= cell(rows, 0, left: last, right: 1, turing: turing, clipping: clipping)
        // A NaN in `nonFiniteLanes` marks a lane that met a NaN or an infinity: `x · 0` is 0 for every
        // finite x and NaN otherwise, and the NaN survives the additions.
        var nonFiniteLanes = SIMD4<Double>()
        // Flat indices with wrapping (&) arithmetic: none of them can overflow (they stay below
        // gridSize², checked by the preconditions of `init`), and plain `+` would put an overflow
        // check and its branch on each of them in the hottest loop.
        let up = rows.up &- rows.here
        let down = rows.down &- rows.here
        var column = 1
        while column &+ 3 < last {
            nonFiniteLanes += lanes(rows.here &+ column, up: up, down: down, turing: turing, clipping: clipping)
            column &+= 4
        }
        if column &+ 1 < last {
            let pair: SIMD2<Double> = lanes(rows.here &+ column, up: up, down: down, turing: turing, clipping: clipping)
            nonFiniteLanes.lowHalf += pair
            column &+= 2
        }
        if column < last {
            nonFinite |= cell(rows, column, left: column - 1, right: column + 1, turing: turing, clipping: clipping)
        }
        nonFinite |= cell(rows, last, left: last - 1, right: 0, turing: turing, clipping: clipping)
        let lanesFinite = !nonFiniteLanes.sum().isNaN
        return nonFinite == 0 && lanesFinite
    }

    /// The cells at flat indices `here` up to `here + Lanes.scalarCount - 1`, none in an edge column;
    /// `up` and `down` are the offsets of the rows above and below. Returns `V'·0` per lane (before the
    /// clip), which is NaN where `V'` is not finite.
    @inline(__always)
    private func lanes<Lanes: SIMD>(
        _ here: Int, up: Int, down: Int, turing: Bool, clipping: Bool
    ) -> Lanes where Lanes.Scalar == Double {
        var boost = Lanes()
        if turing {
            let oldA: Lanes = load(a, here)
            let oldH: Lanes = load(h, here)
            let lapA: Lanes = laplacian(a, here, up: up, down: down, center: oldA)
            let lapH: Lanes = laplacian(h, here, up: up, down: down, center: oldH)
            let newA = (oldA + diffusionActivator * lapA) + reactionActivator * ((oldA * (1.0 - oldA)) - oldH)
            let newH = (oldH + diffusionInhibitor * lapH) + reactionInhibitor * (oldA - oldH)
            boost.replace(with: MyceliumField.turingBoostVolts, where: newA .> turingThreshold)
            store(Self.clipToUnit(newA), nextA, here)
            store(Self.clipToUnit(newH), nextH, here)
        }
        let center: Lanes = load(v, here)
        let lap: Lanes = laplacian(v, here, up: up, down: down, center: center)
        var next = center + alpha * lap
        // Adding the 0 of a cell without boost changes nothing, as in the scalar path.
        if turing { next = next + boost }
        let check = next * 0
        if clipping {
            let (low, high) = (MyceliumField.potentialRange.lowerBound, MyceliumField.potentialRange.upperBound)
            next.replace(with: low, where: next .< low)
            next.replace(with: high, where: next .> high)
        }
        store(next, nextV, here)
        return check
    }

    /// One cell, with its sideways neighbours given (they wrap at the edges); 1 when `V'` is not finite.
    @inline(__always)
    private func cell(_ rows: RowOffsets, _ column: Int, left: Int, right: Int, turing: Bool, clipping: Bool) -> UInt64 {
        let here = rows.here + column
        var boost = 0.0
        if turing {
            let oldA = a[here]
            let oldH = h[here]
            let lapA = (((a[rows.up + column] + a[rows.down + column]) + a[rows.here + left]) + a[rows.here + right])
                - 4.0 * oldA
            let lapH = (((h[rows.up + column] + h[rows.down + column]) + h[rows.here + left]) + h[rows.here + right])
                - 4.0 * oldH
            let newA = (oldA + diffusionActivator * lapA) + reactionActivator * ((oldA * (1.0 - oldA)) - oldH)
            let newH = (oldH + diffusionInhibitor * lapH) + reactionInhibitor * (oldA - oldH)
            boost = newA > turingThreshold ? MyceliumField.turingBoostVolts : 0
            nextA[here] = newA < 0 ? 0 : (newA > 1 ? 1 : newA)
            nextH[here] = newH < 0 ? 0 : (newH > 1 ? 1 : newH)
        }
        let center = v[here]
        let lap = (((v[rows.up + column] + v[rows.down + column]) + v[rows.here + left]) + v[rows.here + right])
            - 4.0 * center
        var next = center + alpha * lap
        if turing { next = next + boost }
        let nonFinite = PotentialClip.isNonFinite(next)
        if clipping { next = PotentialClip.clip(next) }
        nextV[here] = next
        return nonFinite
    }

    /// `[0, 1]`, lane by lane as `x < 0 ? 0 : (x > 1 ? 1 : x)`. The second test reads the result of
    /// the first (the same answer, as 0 is not above 1), which lets the compiler use min/max
    /// instructions instead of compare-and-blend sequences.
    @inline(__always)
    private static func clipToUnit<Lanes: SIMD>(_ values: Lanes) -> Lanes where Lanes.Scalar == Double {
        var clipped = values
        clipped.replace(with: 0, where: clipped .< 0)
        clipped.replace(with: 1, where: clipped .> 1)
        return clipped
    }

    /// `L(u)` in the model's order of additions: up, down, left, right, then `- 4u`.
    @inline(__always)
    private func laplacian<Lanes: SIMD>(
        _ base: UnsafePointer<Double>, _ here: Int, up: Int, down: Int, center: Lanes
    ) -> Lanes where Lanes.Scalar == Double {
        let vertical: Lanes = load(base, here &+ up) + load(base, here &+ down)
        let left: Lanes = load(base, here &- 1)
        let right: Lanes = load(base, here &+ 1)
        return ((vertical + left) + right) - 4.0 * center
    }

    @inline(__always)
    private func load<Lanes: SIMD>(_ base: UnsafePointer<Double>, _ index: Int) -> Lanes where Lanes.Scalar == Double {
        UnsafeRawPointer(base + index).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    private func store<Lanes: SIMD>(_ values: Lanes, _ base: UnsafeMutablePointer<Double>, _ index: Int)
    where Lanes.Scalar == Double {
        UnsafeMutableRawPointer(base + index).storeBytes(of: values, as: Lanes.self)
    }
}

/// Step 5 for one value.
enum PotentialClip {
    /// 1 for NaN or ±infinity (all exponent bits set), else 0: an integer the loops can OR together
    /// without a branch, which keeps them vectorisable.
    @inline(__always)
    static func isNonFinite(_ value: Double) -> UInt64 {
        let exponentMask: UInt64 = 0x7FF0_0000_0000_0000
        return (value.bitPattern & exponentMask) == exponentMask ? 1 : 0
    }

    /// Clipped to `MyceliumField.potentialRange`, written so that a NaN passes through.
    @inline(__always)
    static func clip(_ value: Double) -> Double {
        let low = MyceliumField.potentialRange.lowerBound
        let high = MyceliumField.potentialRange.upperBound
        return value < low ? low : (value > high ? high : value)
    }
}

/// Start offsets of a row and of its periodic neighbours above and below.
struct RowOffsets {
    let up: Int
    let here: Int
    let down: Int

    init(row: Int, side: Int) {
        here = row * side
        up = (row == 0 ? side - 1 : row - 1) * side
        down = (row == side - 1 ? 0 : row + 1) * side
    }
}
