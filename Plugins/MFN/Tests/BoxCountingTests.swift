import Foundation
import XCTest

@testable import MFN

final class BoxCountingTests: XCTestCase {
    private func mask(side: Int, _ isActive: (_ row: Int, _ column: Int) -> Bool) -> [Bool] {
        (0..<(side * side)).map { isActive($0 / side, $0 % side) }
    }

    func testStandardSizesArePowersOfTwoUpToHalfTheSide() {
        XCTAssertEqual(BoxCounting.standardBoxSizes(forSide: 64), [2, 4, 8, 16, 32])
        XCTAssertEqual(BoxCounting.standardBoxSizes(forSide: 81), [2, 4, 8, 16, 32])
        XCTAssertEqual(BoxCounting.standardBoxSizes(forSide: 4), [2])
    }

    func testFullGridIsTwoDimensional() {
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 64) { _, _ in true }, side: 64), 2, accuracy: 1e-12)
    }

    func testStraightLinesAreOneDimensional() {
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 64) { row, _ in row == 17 }, side: 64), 1, accuracy: 1e-12)
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 64) { _, column in column == 0 }, side: 64), 1, accuracy: 1e-12)
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 64) { row, column in row == column }, side: 64), 1, accuracy: 1e-12)
    }

    func testSingleCellAndEmptySetHaveDimensionZero() {
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 64) { row, column in row == 5 && column == 40 }, side: 64), 0)
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 64) { _, _ in false }, side: 64), 0)
    }

    func testFewerThanTwoUsableSizesGivesZero() {
        XCTAssertEqual(BoxCounting.standardBoxSizes(forSide: 5), [2])
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 5) { _, _ in true }, side: 5), 0)
    }

    func testPartialEdgeBoxesOnASideThatIsNotAPowerOfTwo() {
        // 10×10 full: sizes 2 and 4 → 5² and ceil(10/4)² = 3² boxes.
        let expected = (log(25.0) - log(9.0)) / (log(1.0 / 2) - log(1.0 / 4))
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 10) { _, _ in true }, side: 10), expected, accuracy: 1e-12)
        // A lone cell in the hanging corner box still counts once per size.
        XCTAssertEqual(BoxCounting.dimension(of: mask(side: 11) { row, column in row == 10 && column == 10 }, side: 11), 0)
    }

    func testFastPyramidAgreesWithDirectCountingOnRandomSets() {
        var random = FieldRandom(seed: 99)
        for side in [8, 13, 64, 100] {
            for density in [0.01, 0.2, 0.7] {
                let cells = mask(side: side) { _, _ in random.uniform() < density }
                XCTAssertEqual(
                    BoxCounting.dimension(of: cells, side: side),
                    BoxCounting.dimension(of: cells, side: side, boxSizes: BoxCounting.standardBoxSizes(forSide: side)),
                    accuracy: 1e-12, "side \(side), density \(density)")
            }
        }
    }

    /// Carpet of side 3^levels: a cell is empty when, at some scale, both base-3 digits are 1.
    private func sierpinskiCarpet(levels: Int) -> (mask: [Bool], side: Int) {
        var side = 1
        for _ in 0..<levels { side *= 3 }
        let cells = mask(side: side) { row, column in
            var (r, c) = (row, column)
            while r > 0 || c > 0 {
                if r % 3 == 1 && c % 3 == 1 { return false }
                r /= 3
                c /= 3
            }
            return true
        }
        return (cells, side)
    }

    func testSierpinskiCarpet() {
        let expected = log(8.0) / log(3.0)
        // The standard power-of-two boxes on a 243×243 carpet (partial edge boxes) come within 0.025.
        let large = sierpinskiCarpet(levels: 5)
        XCTAssertEqual(BoxCounting.dimension(of: large.mask, side: large.side), expected, accuracy: 0.05)
        // With boxes that follow its own scale, the 81×81 carpet gives the dimension exactly.
        let small = sierpinskiCarpet(levels: 4)
        XCTAssertEqual(
            BoxCounting.dimension(of: small.mask, side: small.side, boxSizes: [3, 9, 27]), expected, accuracy: 1e-12)
    }
}
