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
    /// sizes in about side²/64 work per size once the cells are read: each row is packed into 64-bit
    /// words (bit `c % 64` of word `c / 64` is column `c`), so that a box row of size 2s is the OR of two
    /// box rows of size s (done in place, one buffer), and the boxes along a packed row are counted by
    /// folding each group of s bits onto its first bit and counting those bits.
    @inline(__always)
    static func countAndDimension(
        side: Int, isActive: (Int) -> Bool
    ) -> (activeCells: Int, dimension: Double) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: packedWordCount(side: side)) { rows in
            countAndDimension(side: side, packedRows: rows, isActive: isActive)
        }
    }

    /// The words `countAndDimension(side:packedRows:isActive:)` needs for a `side`×`side` grid.
    static func packedWordCount(side: Int) -> Int {
        side * ((side + 63) / 64)
    }

    /// As `countAndDimension(side:isActive:)`, with the packed rows in `packedRows` (at least
    /// `packedWordCount(side:)` words, overwritten), so that a caller measuring many fields can keep
    /// one buffer instead of allocating.
    @inline(__always)
    static func countAndDimension(
        side: Int, packedRows rows: UnsafeMutableBufferPointer<UInt64>, isActive: (Int) -> Bool
    ) -> (activeCells: Int, dimension: Double) {
        precondition(rows.count >= packedWordCount(side: side), "packedRows holds fewer words than the grid needs")
        let wordsPerRow = (side + 63) / 64
        do {
            var activeCells = 0
            for row in 0..<side {
                for wordIndex in 0..<wordsPerRow {
                    let first = wordIndex * 64
                    let word = packedWord(first: row * side + first, count: min(64, side - first), isActive: isActive)
                    activeCells &+= word.nonzeroBitCount
                    rows[row * wordsPerRow + wordIndex] = word
                }
            }
            guard activeCells > 0 else { return (0, 0) }
            var fit = LogLogFit()
            var rowCount = side
            var size = 2
            while size * 2 <= side {
                // Rows of boxes of `size` from those of `size / 2`; a last row without a partner is a
                // box row hanging over the bottom edge, and its missing half reads as empty.
                let nextRowCount = (rowCount + 1) / 2
                for row in 0..<nextRowCount {
                    let top = 2 * row * wordsPerRow
                    let hasBottom = 2 * row + 1 < rowCount
                    for wordIndex in 0..<wordsPerRow {
                        let bottom = hasBottom ? rows[top + wordsPerRow + wordIndex] : 0
                        rows[row * wordsPerRow + wordIndex] = rows[top + wordIndex] | bottom
                    }
                }
                rowCount = nextRowCount
                fit.add(size: size, count: occupiedBoxes(rows, rowCount: rowCount, wordsPerRow: wordsPerRow, size: size))
                size *= 2
            }
            return (activeCells, fit.slope)
        }
    }

    /// Bit `i` set when cell `first + i` is active, for `i < count` (at most 64). Bits past the grid's
    /// right edge stay 0, so boxes hanging over it see only their cells on the grid.
    @inline(__always)
    private static func packedWord(first: Int, count: Int, isActive: (Int) -> Bool) -> UInt64 {
        var word: UInt64 = 0
        if count == 64 {
            // A constant trip count, which the compiler unrolls.
            for bit in 0..<64 {
                word |= (isActive(first &+ bit) ? 1 : 0) &<< UInt64(bit)
            }
        } else {
            for bit in 0..<count {
                word |= (isActive(first &+ bit) ? 1 : 0) &<< UInt64(bit)
            }
        }
        return word
    }

    /// Occupied `size`×`size` boxes, given the packed box rows of that size.
    private static func occupiedBoxes(
        _ rows: UnsafeMutableBufferPointer<UInt64>, rowCount: Int, wordsPerRow: Int, size: Int
    ) -> Int {
        var occupied = 0
        if size <= 64 {
            // After the folds, bit j holds the OR of bits j ..< j + size; the boxes start at the
            // multiples of `size`, which 64 is one of, so no box straddles two words.
            var starts: UInt64 = 0
            for bit in stride(from: 0, to: 64, by: size) { starts |= 1 &<< UInt64(bit) }
            for index in 0..<(rowCount * wordsPerRow) {
                var folded = rows[index]
                var shift: UInt64 = 1
                while shift < UInt64(size) {
                    folded |= folded &>> shift
                    shift &<<= 1
                }
                occupied &+= (folded & starts).nonzeroBitCount
            }
        } else {
            // A box spans `size / 64` whole words (the last box of a row may have fewer).
            let wordsPerBox = size / 64
            for row in 0..<rowCount {
                var first = 0
                while first < wordsPerRow {
                    var any: UInt64 = 0
                    for wordIndex in first..<min(first + wordsPerBox, wordsPerRow) {
                        any |= rows[row * wordsPerRow + wordIndex]
                    }
                    occupied &+= any != 0 ? 1 : 0
                    first += wordsPerBox
                }
            }
        }
        return occupied
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
