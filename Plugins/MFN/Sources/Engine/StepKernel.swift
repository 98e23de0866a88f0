/// Steps 2–5 of `MyceliumField.step()`, one row at a time from the current buffers into the next ones.
///
/// Each row is written by two short loops (activator and inhibitor, then potential) that the compiler
/// can vectorise; a row's values are still in L1 when the second loop reads them. Only the first and
/// last cell of a row wrap sideways and are done apart, so the interior loops have no modulo. The first
/// loop compares the unclipped `a'` with the Turing threshold, as the model does, and leaves the boost
/// (5 mV or 0) in the potential row, which the second loop then adds to the diffused value.
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
            react(rows)
            return diffusePotential(rows, addingBoost: true, clipping: true)
        case (false, nil):
            return diffusePotential(rows, addingBoost: false, clipping: true)
        case (true, let jitter?):
            react(rows)
            _ = diffusePotential(rows, addingBoost: true, clipping: false)
            return jitterAndClip(rows, deviation: jitter, random: &random)
        case (false, let jitter?):
            _ = diffusePotential(rows, addingBoost: false, clipping: false)
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

    /// The activator and inhibitor rows, clipped, and the Turing boost for each cell of the row.
    private func react(_ rows: RowOffsets) {
        let (aUp, aHere, aDown, aOut) = (a + rows.up, a + rows.here, a + rows.down, nextA + rows.here)
        let (hUp, hHere, hDown, hOut) = (h + rows.up, h + rows.here, h + rows.down, nextH + rows.here)
        let boosts = nextV + rows.here
        let (dA, rA, dH, rH) = (diffusionActivator, reactionActivator, diffusionInhibitor, reactionInhibitor)
        let (threshold, boost) = (turingThreshold, MyceliumField.turingBoostVolts)
        @inline(__always)
        func cell(_ column: Int, left: Int, right: Int) {
            let oldA = aHere[column]
            let oldH = hHere[column]
            let lapA = (((aUp[column] + aDown[column]) + aHere[left]) + aHere[right]) - 4.0 * oldA
            let lapH = (((hUp[column] + hDown[column]) + hHere[left]) + hHere[right]) - 4.0 * oldH
            let newA = (oldA + dA * lapA) + rA * ((oldA * (1.0 - oldA)) - oldH)
            let newH = (oldH + dH * lapH) + rH * (oldA - oldH)
            boosts[column] = newA > threshold ? boost : 0
            aOut[column] = newA < 0 ? 0 : (newA > 1 ? 1 : newA)
            hOut[column] = newH < 0 ? 0 : (newH > 1 ? 1 : newH)
        }
        let last = side - 1
        cell(0, left: last, right: 1)
        for column in 1..<last {
            cell(column, left: column - 1, right: column + 1)
        }
        cell(last, left: last - 1, right: 0)
    }

    /// `V + alpha·L(V)`, plus the boost left in the row by `reactActivator` (adding 0 changes nothing),
    /// and when `clipping`, clipped with the finiteness check of `clipPotentials`. Both flags are
    /// constants at each call, so each use compiles to its own loop.
    @inline(__always)
    private func diffusePotential(_ rows: RowOffsets, addingBoost: Bool, clipping: Bool) -> Bool {
        let (up, here, down, out) = (v + rows.up, v + rows.here, v + rows.down, nextV + rows.here)
        let alpha = alpha
        var nonFinite: UInt64 = 0
        @inline(__always)
        func cell(_ column: Int, left: Int, right: Int) {
            let center = here[column]
            let lap = (((up[column] + down[column]) + here[left]) + here[right]) - 4.0 * center
            var next = center + alpha * lap
            if addingBoost { next = next + out[column] }
            if clipping {
                nonFinite |= PotentialClip.isNonFinite(next)
                next = PotentialClip.clip(next)
            }
            out[column] = next
        }
        let last = side - 1
        cell(0, left: last, right: 1)
        for column in 1..<last {
            cell(column, left: column - 1, right: column + 1)
        }
        cell(last, left: last - 1, right: 0)
        return nonFinite == 0
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
