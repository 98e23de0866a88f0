/// A snapshot of the three fields, row-major (`index = row * gridSize + column`).
public struct FieldState: Sendable, Equatable, Codable {
    public let gridSize: Int
    /// Membrane potentials `V`, in volts.
    public var potentials: [Double]
    /// Turing activator `a`, in [0, 1].
    public var activator: [Double]
    /// Turing inhibitor `h`, in [0, 1].
    public var inhibitor: [Double]

    public init(gridSize: Int, potentials: [Double], activator: [Double], inhibitor: [Double]) {
        self.gridSize = gridSize
        self.potentials = potentials
        self.activator = activator
        self.inhibitor = inhibitor
    }

    /// Why this state cannot start a field, or `nil` when it can.
    func problem() -> String? {
        let cells = gridSize * gridSize
        for (name, values) in [("potentials", potentials), ("activator", activator), ("inhibitor", inhibitor)] {
            if values.count != cells {
                return "\(name) holds \(values.count) values, a \(gridSize)×\(gridSize) grid needs \(cells)"
            }
            if let index = values.firstIndex(where: { !$0.isFinite }) {
                return "\(name)[\(index)] is \(values[index]), not a finite number"
            }
        }
        return nil
    }
}

/// One spike: `V[cell] += amountVolts`, drawn at the start of a step.
public struct GrowthEvent: Sendable, Equatable, Codable {
    /// Row-major cell index.
    public let cell: Int
    public let amountVolts: Double

    public init(cell: Int, amountVolts: Double) {
        self.cell = cell
        self.amountVolts = amountVolts
    }
}

/// The potential field held a NaN or an infinity after a step; the simulation cannot go on.
public struct FieldDiverged: Error, Sendable, Equatable, CustomStringConvertible {
    /// The step (1-based) after which the field was found non-finite.
    public let step: Int

    public var description: String {
        "the potential field diverged at step \(step): it holds a NaN or an infinity"
    }
}
