import Foundation

/// Box-counting (Minkowski–Bouligand) dimension of a set of cells on a square grid.
///
/// The dimension is the least-squares slope of `ln(count)` against `ln(1/size)`, where `count` is the
/// number of `size`×`size` boxes holding at least one cell of the set. The standard sizes are the powers
/// of two 2, 4, 8 … up to `side / 2`. When `side` is not a multiple of a size, the grid is covered by
/// `ceil(side / size)` boxes per axis and those on the right and bottom edges are partial (they hang over
/// the grid). Sizes whose count is zero are left out; an empty set, or fewer than two usable sizes,
/// gives 0.
public enum BoxCounting {
    /// 2, 4, 8 … up to `side / 2`.
    public static func standardBoxSizes(forSide side: Int) -> [Int] {
        var sizes: [Int] = []
        var size = 2
        while size * 2 <= side {
            sizes.append(size)
            size *= 2
        }
        return sizes
    }

    /// Dimension over the standard sizes; `mask` is row-major, `side`×`side`.
    public static func dimension(of mask: [Bool], side: Int) -> Double {
        precondition(mask.count == side * side, "mask must hold side × side values")
        return mask.withUnsafeBufferPointer { cells in
            countAndDimension(side: side) { cells[$0] }.dimension
        }
    }

    /// Dimension over any box sizes (each at least 1), counted directly; slower than the standard sizes.
    public static func dimension(of mask: [Bool], side: Int, boxSizes: [Int]) -> Double {
        precondition(mask.count == side * side, "mask must hold side × side values")
        precondition(boxSizes.allSatisfy { $0 >= 1 }, "box sizes must be at least 1")
        var fit = LogLogFit()
        for size in boxSizes {
            let boxesPerSide = (side + size - 1) / size
            var occupied = [Bool](repeating: false, count: boxesPerSide * boxesPerSide)
            for row in 0..<side {
                for column in 0..<side where mask[row * side + column] {
                    occupied[(row / size) * boxesPerSide + column / size] = true
                }
            }
            fit.add(size: size, count: occupied.lazy.filter { $0 }.count)
        }
        return fit.slope
    }

    /// Counts the cells for which `isActive(index)` holds and measures their dimension over the standard
    /// sizes in about side² work: the size-2 occupancy is built from the cells, and each larger size's
    /// occupancy from the one before (a box of size 2s is occupied when any of its four s-boxes is),
    /// in place in one buffer.
    @inline(__always)
    static func countAndDimension(
        side: Int, isActive: (Int) -> Bool
    ) -> (activeCells: Int, dimension: Double) {
        let firstLevelSide = (side + 1) / 2
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: firstLevelSide * firstLevelSide) {
            occupancy in
            var activeCells = 0
            // Each size-2 box gathers a 2×2 block; on an odd side the last row and column of boxes hang
            // over the grid, and their missing cells read as inactive.
            for boxRow in 0..<firstLevelSide {
                let top = 2 * boxRow * side
                let hasBottom = 2 * boxRow + 1 < side
                let bottom = hasBottom ? top + side : top
                let boxes = occupancy.baseAddress.map { $0 + boxRow * firstLevelSide }
                for boxColumn in 0..<(side / 2) {
                    let left = 2 * boxColumn
                    var inBox = (isActive(top + left) ? 1 : 0) + (isActive(top + left + 1) ? 1 : 0)
                    if hasBottom {
                        inBox += (isActive(bottom + left) ? 1 : 0) + (isActive(bottom + left + 1) ? 1 : 0)
                    }
                    activeCells += inBox
                    boxes?[boxColumn] = inBox > 0 ? 1 : 0
                }
                if side % 2 == 1 {
                    let left = side - 1
                    var inBox = isActive(top + left) ? 1 : 0
                    if hasBottom { inBox += isActive(bottom + left) ? 1 : 0 }
                    activeCells += inBox
                    boxes?[side / 2] = inBox > 0 ? 1 : 0
                }
            }
            guard activeCells > 0 else { return (0, 0) }
            var fit = LogLogFit()
            var levelSide = firstLevelSide
            var size = 2
            while size * 2 <= side {
                var occupied = 0
                for index in 0..<(levelSide * levelSide) {
                    occupied &+= Int(occupancy[index])
                }
                fit.add(size: size, count: occupied)
                let nextSide = (levelSide + 1) / 2
                for row in 0..<nextSide {
                    let top = 2 * row * levelSide
                    let bottom = top + levelSide
                    let hasBottom = 2 * row + 1 < levelSide
                    for column in 0..<nextSide {
                        let left = 2 * column
                        let hasRight = left + 1 < levelSide
                        var any = occupancy[top + left]
                        if hasRight { any |= occupancy[top + left + 1] }
                        if hasBottom {
                            any |= occupancy[bottom + left]
                            if hasRight { any |= occupancy[bottom + left + 1] }
                        }
                        occupancy[row * nextSide + column] = any
                    }
                }
                levelSide = nextSide
                size *= 2
            }
            return (activeCells, fit.slope)
        }
    }
}

/// Least-squares slope of ln(count) against ln(1/size), over sizes with a nonzero count.
struct LogLogFit {
    private var points = 0.0
    private var sumX = 0.0
    private var sumY = 0.0
    private var sumXX = 0.0
    private var sumXY = 0.0

    mutating func add(size: Int, count: Int) {
        guard count > 0 else { return }
        let x = -log(Double(size))
        let y = log(Double(count))
        points += 1
        sumX += x
        sumY += y
        sumXX += x * x
        sumXY += x * y
    }

    var slope: Double {
        guard points >= 2 else { return 0 }
        let meanX = sumX / points
        let meanY = sumY / points
        let covariance = sumXY / points - meanX * meanY
        let varianceX = sumXX / points - meanX * meanX
        return covariance / varianceX
    }
}
