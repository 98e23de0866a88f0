@testable import HyphaeCore
import XCTest

final class SuggestionTests: XCTestCase {
    func testNearestNamesComeClosestFirst() {
        XCTAssertEqual(Suggestions.nearest(to: "sampel", in: ["sample", "simulation", "stdout"]), ["sample"])
        XCTAssertEqual(Suggestions.nearest(to: "tickr", in: ["ticker", "tick", "log"]), ["tick", "ticker"])
        XCTAssertEqual(Suggestions.nearest(to: "zzzz", in: ["sample", "ticker"]), [])
        XCTAssertEqual(Suggestions.nearest(to: "Sample", in: ["sample"]), ["sample"], "case is ignored")
        XCTAssertEqual(Suggestions.nearest(to: "mov", in: ["moving_average", "sample"]), ["moving_average"], "a prefix counts as near")
        XCTAssertEqual(Suggestions.nearest(to: "a", in: ["b", "c", "d", "e"]).count, 3, "at most three")
    }

    func testDidYouMeanWording() {
        XCTAssertEqual(Suggestions.didYouMean("sampel", in: ["sample"]), "; did you mean 'sample'?")
        XCTAssertEqual(Suggestions.didYouMean("mn", in: ["min", "max"]), "; did you mean 'min' or 'max'?")
        XCTAssertEqual(Suggestions.didYouMean("zzzz", in: ["sample"]), "")
    }

    func testASwapOfNeighbouringLettersIsOneEdit() {
        func distance(_ lhs: String, _ rhs: String) -> Int {
            Suggestions.editDistance(Array(lhs.unicodeScalars), Array(rhs.unicodeScalars))
        }
        XCTAssertEqual(distance("sample", "sampel"), 1)
        XCTAssertEqual(distance("kitten", "sitting"), 3)
        XCTAssertEqual(distance("", "abc"), 3)
        XCTAssertEqual(distance("abc", ""), 3)
        XCTAssertEqual(distance("same", "same"), 0)
    }
}
