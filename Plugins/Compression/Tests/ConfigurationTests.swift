import HyphaeCore
import XCTest

@testable import Compression

final class ConfigurationTests: XCTestCase {
    private func read(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) throws -> (CompressConfiguration, [Diagnostic]) {
        guard case .success(let node) = YAMLDocument.parse(yaml, file: "test.yaml") else {
            XCTFail("the test's YAML does not parse", file: file, line: line)
            throw ConfigurationTestError.unreadable
        }
        var reader = ConfigReader(node: node, stageType: "compress", fieldPrefix: "transforms[0]", values: ReferenceValues(params: [:], environment: [:]))
        let configuration = CompressConfiguration(reading: &reader)
        reader.finish()
        return (configuration, reader.diagnostics)
    }

    private enum ConfigurationTestError: Error { case unreadable }

    private func messages(_ yaml: String) throws -> [String] {
        try read(yaml).1.map(\.summary)
    }

    func testDefaultsOfEachMethod() throws {
        let (configuration, diagnostics) = try read("type: compress\nprecision: true\npack: true\ndelta: true\n")
        XCTAssertEqual(diagnostics, [])
        XCTAssertEqual(
            configuration,
            CompressConfiguration(
                significantDigits: 6,
                packing: .init(width: .bits16, minimumLength: 64),
                delta: .init(tolerance: ChangeTolerance(absolute: 0, relative: 0), keyframeInterval: 10)
            )
        )
    }

    func testEveryFieldSet() throws {
        let yaml = """
            type: compress
            precision: true
            significant_digits: 4
            pack: true
            pack_bits: 8
            pack_min_length: 128
            delta: true
            keyframe_interval: 25
            delta_absolute_tolerance: 0.001
            delta_relative_tolerance: 0.0005
            """
        let (configuration, diagnostics) = try read(yaml)
        XCTAssertEqual(diagnostics, [])
        XCTAssertEqual(
            configuration,
            CompressConfiguration(
                significantDigits: 4,
                packing: .init(width: .bits8, minimumLength: 128),
                delta: .init(tolerance: ChangeTolerance(absolute: 0.001, relative: 0.0005), keyframeInterval: 25)
            )
        )
    }

    func testMethodsSwitchedOffLeaveNothingOn() throws {
        let (configuration, diagnostics) = try read("type: compress\nprecision: false\nsignificant_digits: 3\ndelta: false\n")
        XCTAssertEqual(diagnostics, [])
        XCTAssertEqual(configuration, CompressConfiguration())
    }

    func testWrongTypesAndRanges() throws {
        XCTAssertEqual(try messages("precision: yes please"), ["transforms[0].precision: expected true or false, found 'yes please'"])
        XCTAssertEqual(try messages("precision: true\nsignificant_digits: four"), ["transforms[0].significant_digits: expected an integer, found 'four'"])
        XCTAssertEqual(try messages("precision: true\nsignificant_digits: 16"), ["transforms[0].significant_digits: expected an integer from 1 to 15, found '16'"])
        XCTAssertEqual(try messages("precision: true\nsignificant_digits: 0"), ["transforms[0].significant_digits: expected an integer from 1 to 15, found '0'"])
        XCTAssertEqual(try messages("pack: true\npack_bits: 12"), ["transforms[0].pack_bits: expected 8 or 16, found 12"])
        XCTAssertEqual(try messages("pack: true\npack_min_length: 1"), ["transforms[0].pack_min_length: expected an integer of at least 2, found '1'"])
        XCTAssertEqual(try messages("delta: true\nkeyframe_interval: 0"), ["transforms[0].keyframe_interval: expected an integer from 1 to 1000000, found '0'"])
        XCTAssertEqual(try messages("delta: true\ndelta_absolute_tolerance: -1"), ["transforms[0].delta_absolute_tolerance: expected a number of at least 0, found '-1'"])
        XCTAssertEqual(try messages("delta: true\ndelta_relative_tolerance: 1"), ["transforms[0].delta_relative_tolerance: expected a number from 0 to below 1, found '1'"])
        XCTAssertEqual(try messages("delta: true\ndelta_relative_tolerance: [0.1]"), ["transforms[0].delta_relative_tolerance: expected a single value, found a list"])
    }

    func testNoMethodAtAllIsReported() throws {
        XCTAssertEqual(try messages("type: compress"), ["transforms[0]: turn on at least one method: 'precision: true', 'pack: true' or 'delta: true'"])
    }

    func testTuningAMethodThatIsNeverSwitchedOnIsReported() throws {
        XCTAssertEqual(
            try messages("delta: true\nsignificant_digits: 4\npack_bits: 8"),
            [
                "transforms[0].significant_digits: 'significant_digits' has no effect unless 'precision' is on; add 'precision: true'",
                "transforms[0].pack_bits: 'pack_bits' has no effect unless 'pack' is on; add 'pack: true'",
            ]
        )
    }

    func testUnknownFieldsGetASuggestion() throws {
        let messages = try messages("precision: true\nsignificant_digit: 4")
        XCTAssertEqual(messages.count, 1)
        XCTAssertTrue(messages[0].contains("unknown field 'significant_digit'"), messages[0])
        XCTAssertTrue(messages[0].contains("significant_digits"), messages[0])
    }

    func testParamsReachTheFields() throws {
        guard case .success(let node) = YAMLDocument.parse("delta: ${use_delta}\nkeyframe_interval: ${every}", file: "test.yaml") else {
            return XCTFail("the test's YAML does not parse")
        }
        var reader = ConfigReader(node: node, stageType: "compress", fieldPrefix: "transforms[0]", values: ReferenceValues(params: ["use_delta": true, "every": 5], environment: [:]))
        let configuration = CompressConfiguration(reading: &reader)
        reader.finish()
        XCTAssertEqual(reader.diagnostics, [])
        XCTAssertEqual(configuration.delta?.keyframeInterval, 5)
    }

    func testTheRegistryDescribesEveryField() throws {
        let descriptor = try XCTUnwrap(StageRegistry(plugins: [CompressionPlugin.self])["compress"])
        XCTAssertEqual(descriptor.kind, .transform)
        XCTAssertEqual(
            descriptor.fields.map(\.name),
            ["precision", "significant_digits", "pack", "pack_bits", "pack_min_length", "delta", "keyframe_interval", "delta_absolute_tolerance", "delta_relative_tolerance"]
        )
        XCTAssertTrue(descriptor.fields.allSatisfy { !$0.isRequired })
    }
}
