@testable import MFN

/// Builders for hand-made fields.
enum HandMade {
    /// Parameters with every random and optional part off unless asked for.
    static func parameters(
        gridSize: Int = 4, alpha: Double = 0.1, spikeProbability: Double = 0, turingEnabled: Bool = false,
        jitterVariance: Double? = nil
    ) -> FieldParameters {
        FieldParameters(
            gridSize: gridSize, alpha: alpha, spikeProbability: spikeProbability, turingEnabled: turingEnabled,
            jitterVariance: jitterVariance)
    }

    static func uniformState(gridSize: Int, potential: Double, activator: Double = 0, inhibitor: Double = 0)
        -> FieldState
    {
        let cells = gridSize * gridSize
        return FieldState(
            gridSize: gridSize,
            potentials: Array(repeating: potential, count: cells),
            activator: Array(repeating: activator, count: cells),
            inhibitor: Array(repeating: inhibitor, count: cells))
    }

    static func field(_ parameters: FieldParameters, _ state: FieldState, seed: UInt64 = 7) throws -> MyceliumField {
        try MyceliumField(parameters: parameters, state: state, seed: seed)
    }
}

/// A deliberately plain re-statement of one step (modulo indexing, no buffers), for comparing with the
/// engine on small hand-made grids where the spike is known.
enum NaiveModel {
    static func laplacian(_ u: [Double], side: Int, row: Int, column: Int) -> Double {
        func at(_ r: Int, _ c: Int) -> Double { u[((r + side) % side) * side + (c + side) % side] }
        return (((at(row - 1, column) + at(row + 1, column)) + at(row, column - 1)) + at(row, column + 1))
            - 4.0 * at(row, column)
    }

    static func step(_ state: FieldState, _ p: FieldParameters, spike: GrowthEvent?) -> FieldState {
        let side = state.gridSize
        var v = state.potentials
        if let spike { v[spike.cell] += spike.amountVolts }
        var newV = v
        var newA = state.activator
        var newH = state.inhibitor
        for row in 0..<side {
            for column in 0..<side {
                let i = row * side + column
                newV[i] = v[i] + p.alpha * laplacian(v, side: side, row: row, column: column)
                guard p.turingEnabled else { continue }
                let a = state.activator[i]
                let h = state.inhibitor[i]
                let nextA = (a + p.diffusionActivator * laplacian(state.activator, side: side, row: row, column: column))
                    + p.reactionActivator * ((a * (1.0 - a)) - h)
                let nextH = (h + p.diffusionInhibitor * laplacian(state.inhibitor, side: side, row: row, column: column))
                    + p.reactionInhibitor * (a - h)
                if nextA > p.turingThreshold { newV[i] += 0.005 }
                newA[i] = min(max(nextA, 0), 1)
                newH[i] = min(max(nextH, 0), 1)
            }
        }
        newV = newV.map { min(max($0, -0.095), 0.040) }
        return FieldState(gridSize: side, potentials: newV, activator: newA, inhibitor: newH)
    }
}
