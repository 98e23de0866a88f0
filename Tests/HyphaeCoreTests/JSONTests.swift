import HyphaeCore
import XCTest

final class JSONParserTests: XCTestCase {
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        do {
            return try JSONParser.parse(text)
        } catch {
            XCTFail("'\(text)' did not parse: \(error)", file: file, line: line)
            return nil
        }
    }

    private func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONParseError? {
        do {
            let value = try JSONParser.parse(text)
            XCTFail("'\(text)' parsed as \(value), expected an error", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    func testScalars() {
        XCTAssertEqual(parse("null"), .null)
        XCTAssertEqual(parse("true"), .bool(true))
        XCTAssertEqual(parse(" false "), .bool(false))
        XCTAssertEqual(parse("\"text\""), .string("text"))
        XCTAssertEqual(parse("\t\r\n 0 \n"), .int(0))
    }

    func testIntegersStayIntegersAndOtherNumbersAreDoubles() {
        XCTAssertEqual(parse("42"), .int(42))
        XCTAssertEqual(parse("-7"), .int(-7))
        XCTAssertEqual(parse("4.0"), .double(4))
        XCTAssertEqual(parse("1e3"), .double(1000))
        XCTAssertEqual(parse("-2.5E-1"), .double(-0.25))
        XCTAssertEqual(parse("9223372036854775807"), .int(Int.max))
        XCTAssertEqual(parse("9223372036854775808"), .double(9_223_372_036_854_775_808), "past Int.max an integer becomes a double")
    }

    func testContainersKeepTheirOrder() {
        XCTAssertEqual(parse("[]"), .array([]))
        XCTAssertEqual(parse("{}"), .object(JSONObject()))
        XCTAssertEqual(parse("[1, \"a\", [true], {\"k\": null}]"), [1, "a", [true], ["k": nil]])
        let object = parse("{\"z\": 1, \"a\": 2, \"m\": {\"x\": [1.5]}}")
        XCTAssertEqual(object?.objectValue?.keys, ["z", "a", "m"])
        XCTAssertEqual(object?["m"]?["x"], [1.5])
        XCTAssertEqual(parse("{\"k\": 1, \"k\": 2}")?["k"], 2, "a repeated member keeps its last value")
    }

    func testStringEscapes() {
        XCTAssertEqual(parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{08}\u{0C}\n\r\t"))
        XCTAssertEqual(parse(#""\u00e9\u4E2D""#), .string("é中"))
        XCTAssertEqual(parse(#""\ud83d\ude00""#), .string("😀"), "a surrogate pair is one scalar")
        XCTAssertEqual(parse("\"héllo 😀\""), .string("héllo 😀"), "UTF-8 passes through")
    }

    func testErrorsSayWhereAndWhy() {
        let cases: [(text: String, offset: Int, reason: String)] = [
            ("", 0, "unexpected end of input"),
            ("   ", 3, "unexpected end of input"),
            ("nul", 0, "unexpected end of input"),
            ("nulL", 0, "expected null"),
            ("tru e", 0, "expected true"),
            ("@", 0, "unexpected character '@'"),
            ("1 2", 2, "unexpected text after the value"),
            ("-", 1, "expected a digit"),
            ("-x", 1, "expected a digit"),
            ("1.", 2, "expected a digit after '.'"),
            ("1e", 2, "expected a digit in the exponent"),
            ("1e+", 3, "expected a digit in the exponent"),
            ("01", 1, "unexpected text after the value"),
            ("[1,]", 3, "unexpected character ']'"),
            ("[1 2]", 3, "expected ',' or ']' in an array"),
            ("{1: 2}", 1, "expected a member name in quotes"),
            ("{\"a\" 2}", 5, "expected ':' after a member name"),
            ("{\"a\": 2 \"b\": 3}", 8, "expected ',' or '}' in an object"),
            ("\"open", 5, "unterminated string"),
            ("\"tab\there\"", 4, "control character in a string"),
            (#""\x""#, 3, #"unknown escape '\x'"#),
            (#""\u12""#, 3, #"incomplete \u escape"#),
            (#""\u12G4""#, 5, #"invalid hex digit in \u escape"#),
            (#""\ud83d""#, 7, "unpaired surrogate"),
            (#""\ud83dx""#, 7, "unpaired surrogate"),
            (#""\ud83d\u0041""#, 13, "unpaired surrogate"),
            (#""\ude00""#, 7, "unpaired surrogate"),
            ("\"\\", 2, "unterminated escape"),
        ]
        for (text, offset, reason) in cases {
            let error = parseError(text)
            XCTAssertEqual(error?.offset, offset, "for \(text)")
            XCTAssertEqual(error?.reason, reason, "for \(text)")
        }
        XCTAssertEqual(parseError("[1,]")?.description, "invalid JSON at byte 3: unexpected character ']'")
    }

    /// Found by Tests/fuzz (FuzzClientMessages): Double reads `1e400` as infinity, which
    /// JSONWriter writes back as null, so a value did not survive a round trip.
    func testNumbersBeyondDoubleAreRejected() {
        XCTAssertEqual(parseError("1e400")?.reason, "number out of range")
        XCTAssertEqual(parseError("1e400")?.offset, 5)
        XCTAssertEqual(parseError("[0,-1.5E+999]")?.reason, "number out of range")
        XCTAssertEqual(parseError(#"{"timestamp":1e309}"#)?.offset, 18)
        XCTAssertEqual(parse("1.7976931348623157e308"), .double(.greatestFiniteMagnitude))
        XCTAssertEqual(parse("1e-400"), .double(0), "an underflow reads as zero, which JSON can carry")
    }

    func testInvalidUTF8IsRejected() {
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xFF, 0x22])) { error in
            XCTAssertEqual((error as? JSONParseError)?.reason, "string is not valid UTF-8")
        }
    }

    func testNestingIsBounded() {
        let deepest = String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
        XCTAssertNotNil(parse(deepest))
        let tooDeep = String(repeating: "[", count: JSONParser.maximumDepth + 1) + String(repeating: "]", count: JSONParser.maximumDepth + 1)
        XCTAssertEqual(parseError(tooDeep)?.offset, JSONParser.maximumDepth)
        XCTAssertEqual(parseError(tooDeep)?.reason, "nesting deeper than 64 levels")
        let deepObjects = String(repeating: "{\"a\":", count: 100_000)
        XCTAssertEqual(parseError(deepObjects)?.reason, "nesting deeper than 64 levels", "no input may exhaust the stack")
    }
}

final class JSONWriterTests: XCTestCase {
    func testScalars() {
        XCTAssertEqual(JSONValue.null.jsonText, "null")
        XCTAssertEqual(JSONValue.bool(true).jsonText, "true")
        XCTAssertEqual(JSONValue.int(0).jsonText, "0")
        XCTAssertEqual(JSONValue.int(-120).jsonText, "-120")
        XCTAssertEqual(JSONValue.int(Int.min).jsonText, "-9223372036854775808")
        XCTAssertEqual(JSONValue.int(Int.max).jsonText, "9223372036854775807")
    }

    func testDoubles() {
        XCTAssertEqual(JSONValue.double(4096).jsonText, "4096.0", "whole doubles stay recognisably floating point")
        XCTAssertEqual(JSONValue.double(-3).jsonText, "-3.0")
        XCTAssertEqual(JSONValue.double(0).jsonText, "0.0")
        XCTAssertEqual(JSONValue.double(0.1).jsonText, "0.1")
        XCTAssertEqual(JSONValue.double(-65.25).jsonText, "-65.25")
        XCTAssertEqual(JSONValue.double(1e20).jsonText, "1e+20")
        XCTAssertEqual(JSONValue.double(.nan).jsonText, "null")
        XCTAssertEqual(JSONValue.double(.infinity).jsonText, "null")
        XCTAssertEqual(JSONValue.double(-.infinity).jsonText, "null")
        XCTAssertEqual(JSONValue.numbers([1, 2.5, .nan]).jsonText, "[1.0,2.5,null]")
    }

    func testStringEscaping() {
        XCTAssertEqual(JSONValue.string("plain").jsonText, "\"plain\"")
        XCTAssertEqual(JSONValue.string("a\"b\\c").jsonText, #""a\"b\\c""#)
        XCTAssertEqual(JSONValue.string("\n\r\t").jsonText, #""\n\r\t""#)
        XCTAssertEqual(JSONValue.string("\u{01}\u{1F}").jsonText, #""\u0001\u001f""#)
        XCTAssertEqual(JSONValue.string("é/😀").jsonText, "\"é/😀\"")
    }

    func testContainersInOrder() {
        let value: JSONValue = ["z": 1, "a": [true, nil, "x"], "m": ["k": 2.5]]
        XCTAssertEqual(value.jsonText, #"{"z":1,"a":[true,null,"x"],"m":{"k":2.5}}"#)
        XCTAssertEqual(JSONValue.array([]).jsonText, "[]")
        XCTAssertEqual(JSONValue.object(JSONObject()).jsonText, "{}")
    }

    func testWrittenTextParsesBackToTheSameValue() throws {
        let value: JSONValue = ["text": "quote \" backslash \\ newline \n 😀", "numbers": [1, -2, 0.5, 1e-7], "nested": [["deep": [nil]]]]
        XCTAssertEqual(try JSONParser.parse(value.jsonText), value)
    }

    func testObjectMembers() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["a"] = 3
        object["c"] = 4
        object["b"] = nil
        XCTAssertEqual(object.keys, ["a", "c"])
        XCTAssertEqual(object["a"], 3)
        let xy: JSONObject = ["x": 1, "y": 2]
        let yx: JSONObject = ["y": 2, "x": 1]
        XCTAssertNotEqual(xy, yx, "order is part of an object")
        var writer = JSONWriter()
        writer.writeRaw("{\"first\":0")
        writer.writeMembers(of: ["second": 1], leadingComma: true)
        writer.writeRaw("}")
        XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self), #"{"first":0,"second":1}"#)
    }

    func testValueAccessors() {
        XCTAssertEqual(JSONValue.int(2).numberValue, 2)
        XCTAssertEqual(JSONValue.double(2.5).numberValue, 2.5)
        XCTAssertNil(JSONValue.string("2").numberValue)
        XCTAssertEqual(JSONValue.numbers([1]).arrayValue, [.double(1)])
        XCTAssertEqual(JSONValue.int(1).typeDescription, "an integer")
        XCTAssertEqual(JSONValue.numbers([]).typeDescription, "an array")
    }
}
