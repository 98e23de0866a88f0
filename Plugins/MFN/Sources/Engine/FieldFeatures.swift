/// The features of one potential field, with the old server's names and units.
public struct FieldFeatures: Sendable, Equatable, Codable {
    public var potMeanMV: Double
    /// Population standard deviation (divided by the cell count), in mV.
    public var potStdMV: Double
    public var potMinMV: Double
    public var potMaxMV: Double
    public var activeNodes: Int
    /// `activeNodes` / cell count.
    public var activityRatio: Double
    /// Box-counting dimension of the active cells; see `BoxCounting`.
    public var fractalDimension: Double
    /// Σ V², with V in volts.
    public var totalEnergy: Double
    /// Mean over cells of `gx² + gy²`, in V², where `gx` (along a row) and `gy` (down a column) are the
    /// gradients as `numpy.gradient` takes them with spacing 1: central differences `(f[i+1] − f[i−1]) / 2`
    /// inside, one-sided `f[1] − f[0]` and `f[n−1] − f[n−2]` at the edges (not periodic).
    public var spatialVariance: Double

    public init(
        potMeanMV: Double, potStdMV: Double, potMinMV: Double, potMaxMV: Double, activeNodes: Int,
        activityRatio: Double, fractalDimension: Double, totalEnergy: Double, spatialVariance: Double
    ) {
        self.potMeanMV = potMeanMV
        self.potStdMV = potStdMV
        self.potMinMV = potMinMV
        self.potMaxMV = potMaxMV
        self.activeNodes = activeNodes
        self.activityRatio = activityRatio
        self.fractalDimension = fractalDimension
        self.totalEnergy = totalEnergy
        self.spatialVariance = spatialVariance
    }

    /// The wire names.
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable {
        case potMeanMV = "pot_mean_mV"
        case potStdMV = "pot_std_mV"
        case potMinMV = "pot_min_mV"
        case potMaxMV = "pot_max_mV"
        case activeNodes = "active_nodes"
        case activityRatio = "activity_ratio"
        case fractalDimension = "fractal_dimension"
        case totalEnergy = "total_energy"
        case spatialVariance = "spatial_variance"
    }

    /// Every feature under its wire name, in the wire order; `active_nodes` as a Double, as the old
    /// server sent it.
    public var namedValues: KeyValuePairs<String, Double> {
        [
            CodingKeys.potMeanMV.rawValue: potMeanMV,
            CodingKeys.potStdMV.rawValue: potStdMV,
            CodingKeys.potMinMV.rawValue: potMinMV,
            CodingKeys.potMaxMV.rawValue: potMaxMV,
            CodingKeys.activeNodes.rawValue: Double(activeNodes),
            CodingKeys.activityRatio.rawValue: activityRatio,
            CodingKeys.fractalDimension.rawValue: fractalDimension,
            CodingKeys.totalEnergy.rawValue: totalEnergy,
            CodingKeys.spatialVariance.rawValue: spatialVariance,
        ]
    }
}

extension FieldFeatures {
    /// Measures a `side`×`side` row-major field of potentials in volts. Takes one temporary buffer for
    /// the box counts (on the stack for small grids); `MyceliumField.features()` keeps its own instead.
    public static func measure(
        _ potentials: UnsafeBufferPointer<Double>, side: Int, activity: ActivityThreshold
    ) -> FieldFeatures {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: BoxCounting.packedWordCount(side: side)) { rows in
            measure(potentials, side: side, activity: activity, packedRows: rows)
        }
    }

    /// As `measure(_:side:activity:)`, with the box counts packed into `packedRows` (at least
    /// `BoxCounting.packedWordCount(side:)` words, overwritten): no allocation.
    static func measure(
        _ potentials: UnsafeBufferPointer<Double>, side: Int, activity: ActivityThreshold,
        packedRows: UnsafeMutableBufferPointer<UInt64>
    ) -> FieldFeatures {
        precondition(side >= 2 && potentials.count == side * side, "potentials must hold side × side values")
        let moments = FieldMoments(potentials, side: side)
        let cells = Double(potentials.count)
        let threshold: Double
        switch activity {
        case .absolute(let volts): threshold = volts
        case .aboveFieldMean(let volts): threshold = moments.mean + volts
        }
        let (activeNodes, dimension) = BoxCounting.countAndDimension(side: side, packedRows: packedRows) { index in
            potentials[index] > threshold
        }
        return FieldFeatures(
            potMeanMV: moments.mean * 1000,
            potStdMV: moments.populationVariance.squareRoot() * 1000,
            potMinMV: moments.minimum * 1000,
            potMaxMV: moments.maximum * 1000,
            activeNodes: activeNodes,
            activityRatio: Double(activeNodes) / cells,
            fractalDimension: dimension,
            totalEnergy: moments.sumOfSquares,
            spatialVariance: moments.gradientSquaredSum / cells)
    }
}

/// One pass of sums over a field. The variance is accumulated about the first value rather than zero,
/// so that the −70 mV offset does not cancel away the digits of a sub-millivolt spread. The interior of
/// each row is summed four columns at a time in four lanes, which the compiler turns into packed
/// arithmetic; the lanes are added at the end.
struct FieldMoments {
    private(set) var mean = 0.0
    private(set) var populationVariance = 0.0
    private(set) var minimum = Double.infinity
    private(set) var maximum = -Double.infinity
    private(set) var sumOfSquares = 0.0
    private(set) var gradientSquaredSum = 0.0

    @inline(__always)
    init(_ buffer: UnsafeBufferPointer<Double>, side: Int) {
        guard let values = buffer.baseAddress, buffer.count == side * side, side >= 2 else {
            preconditionFailure("moments need a side × side field, side ≥ 2")
        }
        var lanes = MomentLanes(shift: values[0])
        let last = side - 1
        for row in 0..<side {
            let here = values + row * side
            // numpy.gradient down a column: one-sided on the first and last rows, central elsewhere.
            let above = values + (row == 0 ? row : row - 1) * side
            let below = values + (row == last ? row : row + 1) * side
            let rowScale = (row == 0 || row == last) ? 1.0 : 0.5
            var column = 1
            while column + 3 < last {
                let (value, gradientSquared): (SIMD4<Double>, SIMD4<Double>) = interiorTerms(
                    here + column, above: above + column, below: below + column, rowScale: rowScale)
                lanes.add(value, gradientSquared: gradientSquared)
                column += 4
            }
            if column + 1 < last {
                let (value, gradientSquared): (SIMD2<Double>, SIMD2<Double>) = interiorTerms(
                    here + column, above: above + column, below: below + column, rowScale: rowScale)
                lanes.add(value, gradientSquared: gradientSquared)
                column += 2
            }
            // What the lanes left: the two edge columns, with one-sided gx, and an odd interior column.
            let gyFirst = (below[0] - above[0]) * rowScale
            let gxFirst = here[1] - here[0]
            lanes.add(here[0], gradientSquared: gxFirst * gxFirst + gyFirst * gyFirst)
            let gyLast = (below[last] - above[last]) * rowScale
            let gxLast = here[last] - here[last - 1]
            lanes.add(here[last], gradientSquared: gxLast * gxLast + gyLast * gyLast)
            if column < last {
                let gy = (below[column] - above[column]) * rowScale
                let gx = (here[column + 1] - here[column - 1]) * 0.5
                lanes.add(here[column], gradientSquared: gx * gx + gy * gy)
            }
        }
        let count = Double(buffer.count)
        let shiftedMean = lanes.shiftedSum.sum() / count
        mean = lanes.shift + shiftedMean
        populationVariance = max(0, lanes.shiftedSquares.sum() / count - shiftedMean * shiftedMean)
        minimum = lanes.minimum.min()
        maximum = lanes.maximum.max()
        sumOfSquares = lanes.squares.sum()
        gradientSquaredSum = lanes.gradientSquared.sum()
    }
}

/// Cells away from the row's edges, from `cell` on: their values and `gx² + gy²`, with central
/// differences along the row and `rowScale` (½ inside, 1 on the one-sided first and last rows) down it.
@inline(__always)
private func interiorTerms<Lanes: SIMD>(
    _ cell: UnsafePointer<Double>, above: UnsafePointer<Double>, below: UnsafePointer<Double>, rowScale: Double
) -> (values: Lanes, gradientSquared: Lanes) where Lanes.Scalar == Double {
    let value: Lanes = load(cell)
    let right: Lanes = load(cell + 1)
    let left: Lanes = load(cell - 1)
    let down: Lanes = load(below)
    let up: Lanes = load(above)
    let gx = (right - left) * 0.5
    let gy = (down - up) * rowScale
    return (value, gx * gx + gy * gy)
}

@inline(__always)
private func load<Lanes: SIMD>(_ first: UnsafePointer<Double>) -> Lanes where Lanes.Scalar == Double {
    UnsafeRawPointer(first).loadUnaligned(as: Lanes.self)
}

/// Four-lane running sums.
private struct MomentLanes {
    let shift: Double
    var shiftedSum = SIMD4<Double>()
    var shiftedSquares = SIMD4<Double>()
    var minimum = SIMD4<Double>(repeating: .infinity)
    var maximum = SIMD4<Double>(repeating: -.infinity)
    var squares = SIMD4<Double>()
    var gradientSquared = SIMD4<Double>()

    init(shift: Double) {
        self.shift = shift
    }

    @inline(__always)
    mutating func add(_ values: SIMD4<Double>, gradientSquared gradient: SIMD4<Double>) {
        let shifted = values - shift
        shiftedSum += shifted
        shiftedSquares += shifted * shifted
        // The same choices as `Swift.min(minimum, value)` and `Swift.max(maximum, value)` lane by lane
        // (ties keep the old minimum and take the new maximum), written as compare-and-replace because
        // `pointwiseMin`/`pointwiseMax` compile to branches per lane, while this is one min/max
        // instruction.
        minimum.replace(with: values, where: values .< minimum)
        maximum.replace(with: values, where: values .>= maximum)
        squares += values * values
        gradientSquared += gradient
    }

    /// Two cells, into the first two lanes.
    @inline(__always)
    mutating func add(_ values: SIMD2<Double>, gradientSquared gradient: SIMD2<Double>) {
        let shifted = values - shift
        shiftedSum.lowHalf += shifted
        shiftedSquares.lowHalf += shifted * shifted
        minimum.lowHalf.replace(with: values, where: values .< minimum.lowHalf)
        maximum.lowHalf.replace(with: values, where: values .>= maximum.lowHalf)
        squares.lowHalf += values * values
        gradientSquared.lowHalf += gradient
    }

    /// One cell, into the first lane.
    @inline(__always)
    mutating func add(_ value: Double, gradientSquared gradient: Double) {
        let shifted = value - shift
        shiftedSum[0] += shifted
        shiftedSquares[0] += shifted * shifted
        minimum[0] = Swift.min(minimum[0], value)
        maximum[0] = Swift.max(maximum[0], value)
        squares[0] += value * value
        gradientSquared[0] += gradient
    }
}
