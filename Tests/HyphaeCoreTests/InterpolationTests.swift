import HyphaeCore
import HyphaeTesting
import XCTest

final class InterpolationTests: XCTestCase {
    // MARK: Splitting text

    private func parts(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [InterpolatedText.Part] {
        switch InterpolatedText.parse(text) {
        case .success(let parsed): return parsed.parts
        case .failure(let error):
            XCTFail("'\(text)' did not parse: \(error)", file: file, line: line)
            return []
        }
    }

    func testTextWithoutReferencesIsOneLiteral() {
        XCTAssertEqual(parts("plain text"), [.literal("plain text")])
        XCTAssertEqual(parts(""), [.literal("")])
        XCTAssertEqual(parts("costs $5 {or so}"), [.literal("costs $5 {or so}")])
    }

    func testAWholeScalarReferenceIsTheSoleReference() throws {
        let parsed = try InterpolatedText.parse("${seed}").get()
        XCTAssertEqual(parsed.parts, [.reference(.param("seed"))])
        XCTAssertEqual(parsed.soleReference, .param("seed"))
    }

    func testEmbeddedReferencesSplitTheText() throws {
        let parsed = try InterpolatedText.parse("run-${seed}-of-${total}").get()
        XCTAssertEqual(parsed.parts, [.literal("run-"), .reference(.param("seed")), .literal("-of-"), .reference(.param("total"))])
        XCTAssertNil(parsed.soleReference)
        XCTAssertEqual(parsed.references, [.param("seed"), .param("total")])
    }

    func testADoubledDollarIsALiteral() throws {
        XCTAssertEqual(parts("$${seed}"), [.literal("${seed}")])
        XCTAssertFalse(try InterpolatedText.parse("$${seed}").get().hasReferences)
        XCTAssertEqual(parts("a $${x} ${y}"), [.literal("a ${x} "), .reference(.param("y"))])
    }

    func testEnvironmentReferences() {
        XCTAssertEqual(parts("${env:HOME}"), [.reference(.environment("HOME", default: nil))])
        XCTAssertEqual(parts("${env:RATE:-10}"), [.reference(.environment("RATE", default: "10"))])
        XCTAssertEqual(parts("${env:RATE:-}"), [.reference(.environment("RATE", default: ""))])
        XCTAssertEqual(parts("${env:URL:-http://x:1/}"), [.reference(.environment("URL", default: "http://x:1/"))])
    }

    func testBadReferences() {
        XCTAssertEqual(InterpolatedText.parse("${seed"), .failure(.unterminated("${seed")))
        XCTAssertEqual(InterpolatedText.parse("${1seed}"), .failure(.badName("1seed")))
        XCTAssertEqual(InterpolatedText.parse("${}"), .failure(.badName("")))
        XCTAssertEqual(InterpolatedText.parse("${a-b}"), .failure(.badName("a-b")))
        XCTAssertEqual(InterpolatedText.parse("${env:}"), .failure(.badName("env:")))
        XCTAssertEqual(InterpolatedText.parse("${env:A B}"), .failure(.badName("env:A B")))
    }

    // MARK: Resolving while a stage is read

    /// A pipeline with params `seed` (int 42), `scale` (float 2) and `on` (bool false),
    /// whose shape transform has the given fields.
    private func shapeConfiguration(_ fields: String, environment: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws -> ShapeTransform.Configuration {
        let result = loadPipeline(yaml: """
            name: demo
            params:
              seed: { type: int, default: 42 }
              scale: { type: float, default: 2 }
              on: { type: bool, default: false }
            source:
              type: counter
              count: ${seed}
            transforms:
              - type: shape
                \(fields)
            sinks:
              - type: discard
            """, environment: environment)
        let errors = result.diagnostics.filter(\.isError)
        XCTAssertTrue(errors.isEmpty, describe(errors), file: file, line: line)
        let pipeline = try XCTUnwrap(result.pipeline, describe(result.diagnostics), file: file, line: line)
        return try XCTUnwrap(pipeline.transforms.first?.defaultConfiguration as? ShapeTransform.Configuration, file: file, line: line)
    }

    func testAWholeScalarParamKeepsItsType() throws {
        let configuration = try shapeConfiguration("label: x\n    copies: ${scale}\n    factor: ${seed}\n    enabled: ${on}")
        XCTAssertEqual(configuration.copies, 2, "a whole float param may fill an int field")
        XCTAssertEqual(configuration.factor, 42, "an int param fills a float field")
        XCTAssertEqual(configuration.enabled, false)
    }

    func testAWholeScalarParamOfTheWrongTypeIsAnError() {
        let result = loadPipeline(yaml: """
            name: demo
            params:
              seed: { type: int, default: 42 }
            source:
              type: counter
            transforms:
              - type: shape
                label: ${seed}
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 8, column: 12, field: "transforms[0].label", contains: ["expected a string, found 42 (param 'seed')"])
    }

    func testAnEmbeddedReferenceBecomesText() throws {
        XCTAssertEqual(try shapeConfiguration("label: run-${seed}").label, "run-42")
        XCTAssertEqual(try shapeConfiguration("label: x${scale}").label, "x2.0")
        XCTAssertEqual(try shapeConfiguration("label: ${seed}${seed}").label, "4242")
    }

    func testADoubledDollarStaysLiteral() throws {
        XCTAssertEqual(try shapeConfiguration("label: cost $${seed}").label, "cost ${seed}")
    }

    func testEnvironmentReferencesInText() throws {
        XCTAssertEqual(try shapeConfiguration("label: host-${env:HYPHAE_HOST}", environment: ["HYPHAE_HOST": "a1"]).label, "host-a1")
        XCTAssertEqual(try shapeConfiguration("label: host-${env:HYPHAE_HOST:-local}").label, "host-local")
        XCTAssertEqual(try shapeConfiguration("label: ${env:HYPHAE_HOST:-}").label, "")
    }

    func testAnEnvironmentValueIsReadByTheFieldsType() throws {
        let configuration = try shapeConfiguration("label: x\n    copies: ${env:HYPHAE_COPIES}\n    enabled: ${env:HYPHAE_ON:-false}", environment: ["HYPHAE_COPIES": "3"])
        XCTAssertEqual(configuration.copies, 3)
        XCTAssertEqual(configuration.enabled, false)
    }

    func testAnEmbeddedReferenceToAnUnsetVariable() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            transforms:
              - type: shape
                label: at-${env:HYPHAE_NOWHERE}
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 6, column: 12, field: "transforms[0].label", contains: ["environment variable 'HYPHAE_NOWHERE' is not set"])
    }

    func testParamDefaultsMayComeFromTheEnvironment() throws {
        let yaml = """
            name: demo
            params:
              n: { type: int, default: "${env:HYPHAE_N:-5}", min: 1 }
            source:
              type: counter
              count: ${n}
            sinks:
              - type: discard
            """
        XCTAssertEqual(try requirePipeline(loadPipeline(yaml: yaml)).params.first?.defaultValue, 5)
        XCTAssertEqual(try requirePipeline(loadPipeline(yaml: yaml, environment: ["HYPHAE_N": "8"])).params.first?.defaultValue, 8)
        let unset = loadPipeline(yaml: yaml.replacingOccurrences(of: ":-5", with: ""))
        XCTAssertTrue(unset.diagnostics.contains { $0.field == "params.n.default" && $0.message.contains("environment variable 'HYPHAE_N' is not set") }, describe(unset.diagnostics))
    }
}
