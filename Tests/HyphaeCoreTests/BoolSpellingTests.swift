import HyphaeCore
import XCTest

final class BoolSpellingTests: XCTestCase {
    func testYAMLTakesOnlyYAMLsOwnWords() {
        for text in ["true", "True", "TRUE"] { XCTAssertEqual(BoolSpelling.yaml.parse(text), true, text) }
        for text in ["false", "False", "FALSE"] { XCTAssertEqual(BoolSpelling.yaml.parse(text), false, text) }
        for text in ["tRUE", "yes", "no", "1", "0", "on", "", " true", "ture"] {
            XCTAssertNil(BoolSpelling.yaml.parse(text), "'\(text)'")
        }
    }

    func testFlagsTakeTrueOneYesAndTheirOppositesInAnyCase() {
        for text in ["true", "TRUE", "tRuE", "1", "yes", "Yes", "YES"] { XCTAssertEqual(BoolSpelling.flag.parse(text), true, text) }
        for text in ["false", "FALSE", "0", "no", "No", "NO"] { XCTAssertEqual(BoolSpelling.flag.parse(text), false, text) }
        for text in ["", "maybe", "on", "off", "y", "n", "2", "-1", "01", " yes", "yes ", "ture"] {
            XCTAssertNil(BoolSpelling.flag.parse(text), "'\(text)'")
        }
    }

    func testEachSaysWhatItAccepts() {
        XCTAssertEqual(BoolSpelling.yaml.accepted, "true or false")
        XCTAssertEqual(BoolSpelling.flag.accepted, "true/1/yes or false/0/no")
    }
}
