import Foundation
import HyphaeCore
import HyphaeTesting
import XCTest

final class SignificantDigitRounderTests: XCTestCase {
    /// A rounder for a digit count the tests know is supported.
    private func makeRounder(_ digits: Int, file: StaticString = #filePath, line: UInt = #line) throws -> SignificantDigitRounder {
        try XCTUnwrap(SignificantDigitRounder(digits: digits), "\(digits) digits", file: file, line: line)
    }

    /// Found by Tests/fuzz (FuzzCompression): -1.75e308 rounded to one digit was -2e308,
    /// beyond the largest Double, so it became infinity and reached clients as null.
    func testRoundingNeverPassesTheLargestDouble() throws {
        let rounder = try makeRounder(1)
        XCTAssertEqual(rounder.rounded(-1.7509513577961935e308), -1.7509513577961935e308)
        XCTAssertEqual(rounder.rounded(.greatestFiniteMagnitude), .greatestFiniteMagnitude)
        XCTAssertEqual(rounder.rounded(1.2e308), 1e308)
        XCTAssertEqual(try makeRounder(3).rounded(-1.7976e308), -1.7976e308, "1.80e308 is beyond the largest Double too")
    }

    func testOnlyDigitCountsThatRoundExactlyMakeARounder() {
        XCTAssertEqual(SignificantDigitRounder.supportedDigits, 1...15)
        for digits in [-1, 0, 16, 17, Int.max] {
            XCTAssertNil(SignificantDigitRounder(digits: digits), "\(digits) digits")
        }
        XCTAssertEqual(SignificantDigitRounder(digits: 15)?.digits, 15)
    }

    func testRoundsToTheDecimalNotToANeighbourOfIt() throws {
        let rounder = try makeRounder(4)
        XCTAssertEqual(rounder.rounded(0.1 + 0.2).description, "0.3")
        XCTAssertEqual(rounder.rounded(-0.0712345678).description, "-0.07123")
        XCTAssertEqual(rounder.rounded(1.0000000000000002), 1.0)
        XCTAssertEqual(rounder.rounded(123_456.7), 123_500)
        XCTAssertEqual(rounder.rounded(4.7123e-6).description, "4.712e-06")
    }

    /// The values the MFN feature stream rounds, with the text a client reads.
    func testRoundsFeatureValuesToTheirShortestText() throws {
        let rounder = try makeRounder(4)
        XCTAssertEqual(rounder.rounded(12345.0), 12350)
        XCTAssertEqual(rounder.rounded(-69.99788917158249), -70.0)
        XCTAssertEqual(rounder.rounded(4.788514819322681e-06).description, "4.789e-06")
        XCTAssertEqual(rounder.rounded(0.41748046875).description, "0.4175")
    }

    func testCarriesIntoANewLeadingDigit() throws {
        let rounder = try makeRounder(4)
        XCTAssertEqual(rounder.rounded(9.9996), 10)
        XCTAssertEqual(rounder.rounded(-999.96), -1000)
        XCTAssertEqual(rounder.rounded(0.099996), 0.1)
    }

    func testLeavesZeroAndNonFiniteNumbersAlone() throws {
        let rounder = try makeRounder(3)
        XCTAssertEqual(rounder.rounded(0), 0)
        XCTAssertEqual(rounder.rounded(.infinity), .infinity)
        XCTAssertTrue(rounder.rounded(.nan).isNaN)
    }

    /// Over many magnitudes and every digit count, the result is the Double the C
    /// library reads from the correctly rounded decimal, and its shortest text has
    /// no more significant digits than asked for.
    func testMatchesCorrectlyRoundedDecimalsAtEveryDigitCount() throws {
        var random = SeededGenerator(seed: 7)
        for digits in 1...15 {
            let rounder = try makeRounder(digits)
            for _ in 0..<4000 {
                let exponent = Double.random(in: -300...300, using: &random)
                let sign: Double = Bool.random(using: &random) ? 1 : -1
                let number = sign * Double.random(in: 1..<10, using: &random) * pow(10, exponent.rounded(.down))
                let expected = Double(String(format: "%.\(digits - 1)e", number)) ?? .nan
                let result = rounder.rounded(number)
                XCTAssertEqual(result, expected, "\(number) to \(digits) digits")
                XCTAssertLessThanOrEqual(Self.significantDigits(of: result), digits, "\(number) to \(digits) digits gave \(result)")
            }
        }
    }

    func testRoundingShortensTheJSONText() throws {
        var random = SeededGenerator(seed: 11)
        let field = (0..<4096).map { _ in -0.07 + Double.random(in: -0.005...0.005, using: &random) }
        let rounded = try makeRounder(4).rounding(JSONValue.numbers(field))
        let before = JSONValue.numbers(field).jsonText.utf8.count
        let after = rounded.jsonText.utf8.count
        XCTAssertLessThan(after, before / 2)
        for number in rounded.arrayValue ?? [] {
            XCTAssertLessThanOrEqual(number.jsonText.utf8.count, "-0.07123".utf8.count)
        }
    }

    func testRoundsEveryFloatAtAnyDepthAndLeavesIntegersAlone() throws {
        let payload: JSONObject = [
            "step": 123_456_789,
            "ratio": 0.333333333,
            "state": ["mean": -70.123456, "shape": [64, 64], "field": .numbers([0.111111, 2.222222])],
            "series": [1.234567, "label", [9.876543]],
            "name": "mfn",
        ]
        let rounded = try makeRounder(3).rounding(payload)
        let expected: JSONObject = [
            "step": 123_456_789,
            "ratio": 0.333,
            "state": ["mean": -70.1, "shape": [64, 64], "field": .numbers([0.111, 2.22])],
            "series": [1.23, "label", [9.88]],
            "name": "mfn",
        ]
        XCTAssertEqual(rounded, expected)
    }

    /// Significant digits of a number's shortest text: `-0.07123` has 4, `4096.0` has 4, `1.5e-06` has 2.
    static func significantDigits(of number: Double) -> Int {
        let mantissa = number.magnitude.description.split(separator: "e")[0]
        let digits = mantissa.filter(\.isNumber).drop { $0 == "0" }
        return digits.reversed().drop { $0 == "0" }.count
    }
}
