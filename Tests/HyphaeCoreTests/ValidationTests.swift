import HyphaeCore
import HyphaeTesting
import XCTest

/// Every class of problem a pipeline file can have, each with its exact place.
final class ValidationTests: XCTestCase {
    // MARK: The file as a whole

    func testAValidFileLoadsWithoutDiagnostics() throws {
        let pipeline = try requirePipeline(loadPipeline(yaml: """
            name: demo
            description: counts to five
            source:
              type: counter
              count: 5
            sinks:
              - type: discard
            """))
        XCTAssertEqual(pipeline.name, "demo")
        XCTAssertEqual(pipeline.summary, "counts to five")
        XCTAssertEqual(pipeline.source.type, "counter")
        XCTAssertEqual(pipeline.sinks.map(\.type), ["discard"])
        XCTAssertTrue(pipeline.isFinite)
        XCTAssertFalse(pipeline.sharesInstances, "a finite pipeline runs once per subscriber by default")
        XCTAssertEqual(pipeline.nameLocation, SourceLocation(file: "test.yaml", line: 1, column: 7))
    }

    func testInvalidYAMLSyntax() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
              count: [1, 2
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 5, column: 6, field: nil, contains: ["invalid YAML"])
    }

    func testAnUnterminatedQuoteIsInvalidYAML() {
        let result = loadPipeline(yaml: "name: \"demo\nsource: x\n")
        assertSingleDiagnostic(result, line: 3, column: 1, field: nil, contains: ["invalid YAML", "quoted scalar"])
    }

    func testAnEmptyFile() {
        for text in ["", "\n\n", "# only a comment\n"] {
            assertSingleDiagnostic(loadPipeline(yaml: text), line: 1, column: 1, field: nil, contains: ["the file is empty", "'name', 'source' and 'sinks'"])
        }
    }

    func testTheTopLevelMustBeAMapping() {
        assertSingleDiagnostic(loadPipeline(yaml: "- name: demo\n- source: counter\n"), line: 1, column: 1, field: nil, contains: ["expected a mapping", "found a list"])
        assertSingleDiagnostic(loadPipeline(yaml: "just some text\n"), line: 1, column: 1, field: nil, contains: ["expected a mapping", "found 'just some text'"])
    }

    func testAnUnknownTopLevelFieldSuggestsTheNearestName() {
        let result = loadPipeline(yaml: """
            name: demo
            descripton: counts
            source:
              type: counter
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 2, column: 1, field: "descripton", contains: ["unknown field 'descripton'", "did you mean 'description'?"])
    }

    func testAnUnknownTopLevelFieldWithNothingNearListsTheKnownFields() {
        let result = loadPipeline(yaml: """
            name: demo
            zzzzzzzzzz: 1
            source:
              type: counter
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 2, column: 1, field: "zzzzzzzzzz", contains: ["unknown field 'zzzzzzzzzz'", "known fields: name, description, params"])
    }

    func testMissingNameSourceAndSinksAreEachReported() {
        let result = loadPipeline(yaml: "description: nothing else\n")
        XCTAssertEqual(result.diagnostics.compactMap(\.place), [
            Place(line: 1, column: 1, field: "name"),
            Place(line: 1, column: 1, field: "source"),
            Place(line: 1, column: 1, field: "sinks"),
        ], describe(result.diagnostics))
        XCTAssertTrue(result.diagnostics[0].message.contains("missing required field 'name'"))
        XCTAssertTrue(result.diagnostics[1].message.contains("missing required field 'source'"))
        XCTAssertTrue(result.diagnostics[2].message.contains("missing required field 'sinks'"))
        XCTAssertNil(result.pipeline)
    }

    /// Found by FuzzPipelineYAML: `name: &anchor` (an anchor on nothing) left the file with
    /// neither a pipeline nor an error, and `hyphae validate` called it valid.
    func testAnEmptyNameIsAnErrorNotASilentlyMissingPipeline() {
        for (spelling, column) in [("name:", 6), ("name: ~", 7), ("name: &some_anchor", 7), ("name: null", 7)] {
            let result = loadPipeline(yaml: """
                \(spelling)
                source:
                  type: counter
                sinks:
                  - type: discard
                """)
            assertSingleDiagnostic(result, line: 1, column: column, field: "name", contains: ["expected a name of 1 to 64", "found nothing"])
            XCTAssertNil(result.pipeline, spelling)
        }
    }

    func testMissingSinksAlone() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            """)
        assertSingleDiagnostic(result, line: 1, column: 1, field: "sinks", contains: ["missing required field 'sinks'", "a list of sink stages"])
    }

    func testAnEmptySinkList() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            sinks: []
            """)
        assertSingleDiagnostic(result, line: 4, column: 8, field: "sinks", contains: ["expected at least one sink stage"])
    }

    func testSinksThatAreNotAList() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            sinks:
              type: discard
            """)
        assertSingleDiagnostic(result, line: 5, column: 3, field: "sinks", contains: ["expected a list of sink stages", "'- type: ...'", "found a mapping"])
    }

    func testABadName() {
        let result = loadPipeline(yaml: """
            name: my pipeline
            source:
              type: counter
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 1, column: 7, field: "name", contains: ["expected a name of 1 to 64 letters, digits, '_' or '-'", "found 'my pipeline'"])
    }

    func testANameThatIsNotText() {
        let result = loadPipeline(yaml: """
            name: [a, b]
            source:
              type: counter
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 1, column: 7, field: "name", contains: ["expected text, found a list"])
    }

    func testAnUnknownSharingMode() {
        let result = loadPipeline(yaml: """
            name: demo
            sharing: per_subscribr
            source:
              type: counter
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 2, column: 10, field: "sharing", contains: ["expected one of 'auto', 'shared', 'per_subscriber'", "did you mean 'per_subscriber'?"])
    }

    func testMaxInstancesMustBePositive() {
        let result = loadPipeline(yaml: """
            name: demo
            max_instances: 0
            source:
              type: counter
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 2, column: 16, field: "max_instances", contains: ["expected an integer of at least 1, found '0'"])
    }

    // MARK: Stage types

    func testAnUnknownSourceTypeSuggestsTheNearestName() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: countr
            sinks:
              - type: discard
            """)
        let diagnostic = assertSingleDiagnostic(result, line: 3, column: 9, field: "source.type", contains: ["unknown source type 'countr'", "did you mean 'counter'?"])
        XCTAssertEqual(diagnostic?.description, "test.yaml:3:9: error: source.type: unknown source type 'countr'; did you mean 'counter'?")
    }

    func testAnUnknownTransformTypeSuggestsTheNearestName() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            transforms:
              - type: shpae
                label: x
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 5, column: 11, field: "transforms[0].type", contains: ["unknown transform type 'shpae'", "did you mean 'shape'?"])
    }

    func testAnUnknownTypeWithNothingNearListsTheKnownTypes() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            sinks:
              - type: zzzzzzzz
            """)
        assertSingleDiagnostic(result, line: 5, column: 11, field: "sinks[0].type", contains: ["unknown sink type 'zzzzzzzz'", "(known: discard, endpoint)"])
    }

    func testAStageOfTheWrongKindSaysWhereItBelongs() {
        let transformAsSource = loadPipeline(yaml: """
            name: demo
            source:
              type: shape
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(transformAsSource, line: 3, column: 9, field: "source.type", contains: ["'shape' is a transform stage, not a source", "it belongs under 'transforms'"])

        let sinkAsTransform = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            transforms:
              - type: discard
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(sinkAsTransform, line: 5, column: 11, field: "transforms[0].type", contains: ["'discard' is a sink stage, not a transform", "it belongs under 'sinks'"])

        let sourceAsSink = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            sinks:
              - type: counter
            """)
        assertSingleDiagnostic(sourceAsSink, line: 5, column: 11, field: "sinks[0].type", contains: ["'counter' is a source stage, not a sink", "it belongs under 'source'"])
    }

    func testAStageWithoutAType() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              count: 3
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 3, column: 3, field: "source.type", contains: ["missing required field 'type'", "a source type: counter"])
    }

    func testAStageThatIsNotAMapping() {
        let result = loadPipeline(yaml: """
            name: demo
            source: counter
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 2, column: 9, field: "source", contains: ["expected a stage mapping starting with 'type:'", "found 'counter'"])
    }

    // MARK: Stage fields

    func testAnUnknownStageFieldSuggestsTheNearestName() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
              cuont: 3
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 4, column: 3, field: "source.cuont", contains: ["unknown field 'cuont' in stage 'counter'", "did you mean 'count'?"])
    }

    func testAnUnknownFieldOfAStageWithoutFields() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            sinks:
              - type: discard
                colour: red
            """)
        assertSingleDiagnostic(result, line: 6, column: 5, field: "sinks[0].colour", contains: ["unknown field 'colour' in stage 'discard'", "it takes no fields"])
    }

    /// A pipeline whose `shape` transform has `label: x` on line 6 and `field` on line 7.
    private func shapePipeline(_ field: String) -> PipelineFileResult {
        loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            transforms:
              - type: shape
                label: x
                \(field)
            sinks:
              - type: discard
            """)
    }

    func testWrongValueTypes() {
        assertSingleDiagnostic(shapePipeline("copies: three"), line: 7, column: 13, field: "transforms[0].copies", contains: ["expected an integer, found 'three'"])
        assertSingleDiagnostic(shapePipeline("copies: 2.5"), line: 7, column: 13, field: "transforms[0].copies", contains: ["expected an integer, found '2.5'"])
        assertSingleDiagnostic(shapePipeline("copies: \"2\""), line: 7, column: 13, field: "transforms[0].copies", contains: ["expected an integer, found '2'"])
        assertSingleDiagnostic(shapePipeline("factor: fast"), line: 7, column: 13, field: "transforms[0].factor", contains: ["expected a number, found 'fast'"])
        assertSingleDiagnostic(shapePipeline("factor: .nan"), line: 7, column: 13, field: "transforms[0].factor", contains: ["expected a number, found '.nan'"])
        assertSingleDiagnostic(shapePipeline("enabled: maybe"), line: 7, column: 14, field: "transforms[0].enabled", contains: ["expected true or false, found 'maybe'"])
        assertSingleDiagnostic(shapePipeline("enabled: \"true\""), line: 7, column: 14, field: "transforms[0].enabled", contains: ["expected true or false, found 'true'"])
        assertSingleDiagnostic(shapePipeline("mode: [keep]"), line: 7, column: 11, field: "transforms[0].mode", contains: ["expected a single value, found a list"])
        assertSingleDiagnostic(shapePipeline("mode: {a: 1}"), line: 7, column: 11, field: "transforms[0].mode", contains: ["expected a single value, found a mapping"])
        assertSingleDiagnostic(shapePipeline("tags: red"), line: 7, column: 11, field: "transforms[0].tags", contains: ["expected a list of strings, found 'red'"])
        assertSingleDiagnostic(shapePipeline("tags: [red, [green]]"), line: 7, column: 17, field: "transforms[0].tags", contains: ["expected a single value, found a list"])
    }

    func testValuesOfTheRightTypeAreRead() throws {
        let pipeline = try requirePipeline(shapePipeline("tags: [red, blue]"))
        let shape = try XCTUnwrap(pipeline.transforms.first?.defaultConfiguration as? ShapeTransform.Configuration)
        XCTAssertEqual(shape.label, "x")
        XCTAssertEqual(shape.tags, ["red", "blue"])
        XCTAssertEqual(shape.factor, 1)
        XCTAssertEqual(shape.copies, 1)
        XCTAssertEqual(shape.mode, .keep)

        let block = try requirePipeline(shapePipeline("tags:\n      - green\n      - blue"))
        XCTAssertEqual((block.transforms.first?.defaultConfiguration as? ShapeTransform.Configuration)?.tags, ["green", "blue"])
        let mark = try requirePipeline(shapePipeline("mode: mark"))
        XCTAssertEqual((mark.transforms.first?.defaultConfiguration as? ShapeTransform.Configuration)?.mode, .mark)
        let off = try requirePipeline(shapePipeline("enabled: False"))
        XCTAssertEqual((off.transforms.first?.defaultConfiguration as? ShapeTransform.Configuration)?.enabled, false)
        let nullValue = try requirePipeline(shapePipeline("copies: ~"))
        XCTAssertEqual((nullValue.transforms.first?.defaultConfiguration as? ShapeTransform.Configuration)?.copies, 1, "a null value takes the default")
    }

    func testValuesOutsideTheirChoicesSuggestTheNearest() {
        assertSingleDiagnostic(shapePipeline("mode: kep"), line: 7, column: 11, field: "transforms[0].mode", contains: ["expected one of 'keep', 'mark', found 'kep'", "did you mean 'keep'?"])
        assertSingleDiagnostic(shapePipeline("tags: [red, gren]"), line: 7, column: 17, field: "transforms[0].tags", contains: ["'gren' is not one of 'red', 'green', 'blue'", "did you mean 'green'"])
    }

    func testOutOfRangeValues() {
        assertSingleDiagnostic(shapePipeline("copies: 0"), line: 7, column: 13, field: "transforms[0].copies", contains: ["expected an integer from 1 to 10, found '0'"])
        assertSingleDiagnostic(shapePipeline("copies: 11"), line: 7, column: 13, field: "transforms[0].copies", contains: ["expected an integer from 1 to 10, found '11'"])
        assertSingleDiagnostic(shapePipeline("factor: -0.5"), line: 7, column: 13, field: "transforms[0].factor", contains: ["expected a number from 0 to 100, found '-0.5'"])
        assertSingleDiagnostic(shapePipeline("factor: 100.5"), line: 7, column: 13, field: "transforms[0].factor", contains: ["expected a number from 0 to 100, found '100.5'"])
        let counter = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
              count: -1
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(counter, line: 4, column: 10, field: "source.count", contains: ["expected an integer from 0 to 1000000, found '-1'"])
    }

    func testBoundsAreInclusiveUnlessExclusive() throws {
        XCTAssertNoThrow(try requirePipeline(shapePipeline("factor: 100")))
        XCTAssertNoThrow(try requirePipeline(shapePipeline("factor: 0")))
        XCTAssertNoThrow(try requirePipeline(shapePipeline("copies: 10")))
        XCTAssertNoThrow(try requirePipeline(shapePipeline("ratio: 0.999")))
        assertSingleDiagnostic(shapePipeline("ratio: 1"), line: 7, column: 12, field: "transforms[0].ratio", contains: ["expected a number from 0 to below 1, found '1'"])
        assertSingleDiagnostic(shapePipeline("ratio: 1.5"), line: 7, column: 12, field: "transforms[0].ratio", contains: ["expected a number from 0 to below 1, found '1.5'"])
    }

    func testAMissingRequiredStageField() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            transforms:
              - type: shape
                copies: 2
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 5, column: 5, field: "transforms[0].label", contains: ["missing required field 'label'"])
    }

    // MARK: References

    func testAnUndeclaredParamSuggestsTheNearestDeclaredOne() {
        let result = loadPipeline(yaml: """
            name: demo
            params:
              total: { type: int, default: 4, min: 0 }
            source:
              type: counter
              count: ${totl}
            sinks:
              - type: discard
            """)
        XCTAssertEqual(result.diagnostics.compactMap(\.place), [
            Place(line: 3, column: 3, field: "params.total", severity: .warning),
            Place(line: 6, column: 10, field: "source.count"),
        ], describe(result.diagnostics))
        XCTAssertTrue(result.diagnostics[1].message.contains("param 'totl' is used but not declared under 'params'; did you mean 'total'?"), describe(result.diagnostics))
        XCTAssertNil(result.pipeline)
    }

    func testAnUnsetEnvironmentVariableWithoutADefault() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
              count: ${env:HYPHAE_TEST_COUNT}
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 4, column: 10, field: "source.count", contains: ["environment variable 'HYPHAE_TEST_COUNT' is not set", "${env:HYPHAE_TEST_COUNT:-value}"])
    }

    func testAnEnvironmentVariableWithADefault() throws {
        let yaml = """
            name: demo
            source:
              type: counter
              count: ${env:HYPHAE_TEST_COUNT:-7}
            sinks:
              - type: discard
            """
        let unset = try requirePipeline(loadPipeline(yaml: yaml))
        XCTAssertEqual((unset.source.defaultConfiguration as? CounterSource.Configuration)?.count, 7)
        let set = try requirePipeline(loadPipeline(yaml: yaml, environment: ["HYPHAE_TEST_COUNT": "9"]))
        XCTAssertEqual((set.source.defaultConfiguration as? CounterSource.Configuration)?.count, 9)
        XCTAssertEqual(set.environment["HYPHAE_TEST_COUNT"], "9")
        let wrong = loadPipeline(yaml: yaml, environment: ["HYPHAE_TEST_COUNT": "nine"])
        assertSingleDiagnostic(wrong, line: 4, column: 10, field: "source.count", contains: ["expected an integer, found 'nine'"])
    }

    func testBadReferenceSyntax() {
        let cases: [(value: String, words: [String])] = [
            ("${1abc}", ["'${1abc}' is not a reference", "${param_name}, ${env:NAME} or ${env:NAME:-default}"]),
            ("${}", ["'${}' is not a reference"]),
            ("${env:}", ["'${env:}' is not a reference"]),
            ("${total", ["opens '${' without a closing '}'", "write '$${' for a literal '${'"]),
        ]
        for (value, words) in cases {
            let result = loadPipeline(yaml: """
                name: demo
                source:
                  type: counter
                  count: \(value)
                sinks:
                  - type: discard
                """)
            assertSingleDiagnostic(result, line: 4, column: 10, field: "source.count", contains: words)
        }
    }

    // MARK: Duplicate keys

    func testADuplicateKey() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
              count: 1
              count: 2
            sinks:
              - type: discard
            """)
        // Yams reports a repeated key at its first occurrence.
        assertSingleDiagnostic(result, line: 4, column: 3, field: nil, contains: ["the key 'count' appears more than once in this mapping"])
    }

    func testADuplicateTopLevelKey() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            name: other
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 1, column: 1, field: nil, contains: ["the key 'name' appears more than once in this mapping"])
    }

    // MARK: Param declarations

    /// A pipeline declaring param `n` on line 3 and using it as the counter's count on line 6.
    private func paramPipeline(_ declaration: String) -> PipelineFileResult {
        loadPipeline(yaml: """
            name: demo
            params:
              n: \(declaration)
            source:
              type: counter
              count: ${n}
            sinks:
              - type: discard
            """)
    }

    private func diagnostics(_ result: PipelineFileResult, under field: String) -> [Diagnostic] {
        result.diagnostics.filter { $0.field?.hasPrefix(field) ?? false }
    }

    func testAParamOfAnUnknownTypeSuggestsTheNearest() {
        let result = paramPipeline("{ type: flot, default: 3 }")
        let problems = diagnostics(result, under: "params.")
        XCTAssertEqual(problems.compactMap(\.place), [Place(line: 3, column: 14, field: "params.n.type")], describe(result.diagnostics))
        XCTAssertTrue(problems.first?.message.contains("expected one of int, float, bool, string, list, found 'flot'; did you mean 'float'?") ?? false, describe(problems))
        XCTAssertNil(result.pipeline)
    }

    func testAParamWithoutATypeOrADefault() {
        let untyped = diagnostics(paramPipeline("{ default: 3 }"), under: "params.")
        XCTAssertEqual(untyped.compactMap(\.place), [Place(line: 3, column: 6, field: "params.n.type")], describe(untyped))
        XCTAssertTrue(untyped.first?.message.contains("missing required field 'type'") ?? false)
        let undefaulted = diagnostics(paramPipeline("{ type: int }"), under: "params.")
        XCTAssertEqual(undefaulted.compactMap(\.place), [Place(line: 3, column: 6, field: "params.n.default")], describe(undefaulted))
        XCTAssertTrue(undefaulted.first?.message.contains("missing required field 'default'") ?? false)
    }

    func testAParamDefaultOutOfRange() {
        let result = paramPipeline("{ type: int, default: 500, min: 0, max: 100 }")
        let problems = diagnostics(result, under: "params.")
        XCTAssertEqual(problems.compactMap(\.place), [Place(line: 3, column: 28, field: "params.n.default")], describe(result.diagnostics))
        XCTAssertTrue(problems.first?.message.contains("the default does not fit the declaration: expected an integer from 0 to 100, found 500") ?? false, describe(problems))
    }

    func testAParamDefaultOfTheWrongType() {
        let result = paramPipeline("{ type: int, default: many }")
        let problems = diagnostics(result, under: "params.")
        XCTAssertEqual(problems.compactMap(\.place), [Place(line: 3, column: 28, field: "params.n.default")], describe(result.diagnostics))
        XCTAssertTrue(problems.first?.message.contains("expected an integer, found 'many'") ?? false, describe(problems))
        let float = diagnostics(paramPipeline("{ type: int, default: 2.5 }"), under: "params.")
        XCTAssertTrue(float.first?.message.contains("expected an integer, found '2.5'") ?? false, describe(float))
    }

    func testAParamWhoseMinimumIsAboveItsMaximum() {
        let result = paramPipeline("{ type: int, default: 5, min: 10, max: 1 }")
        let problems = diagnostics(result, under: "params.")
        XCTAssertEqual(problems.compactMap(\.place), [
            Place(line: 3, column: 28, field: "params.n.default"),
            Place(line: 3, column: 36, field: "params.n.min"),
        ], describe(result.diagnostics))
        XCTAssertTrue(problems.last?.message.contains("min (10) is above max (1)") ?? false, describe(problems))
    }

    func testAnUnknownParamFieldSuggestsTheNearest() {
        let result = paramPipeline("{ type: int, default: 5, mn: 0 }")
        assertSingleDiagnostic(result, line: 3, column: 31, field: "params.n.mn", contains: ["unknown field 'mn' in a param declaration", "did you mean 'min'"])
    }

    func testItemsOnAParamThatIsNotAList() {
        let result = paramPipeline("{ type: int, default: 5, items: int }")
        assertSingleDiagnostic(result, line: 3, column: 31, field: "params.n.items", contains: ["'items' applies only to params of type list"])
    }

    func testBoundsOnAParamThatIsNotANumber() {
        let result = loadPipeline(yaml: """
            name: demo
            params:
              label: { type: string, default: x, min: 1 }
            source:
              type: counter
            transforms:
              - type: shape
                label: ${label}
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 3, column: 38, field: "params.label.min", contains: ["'min' applies only to params of type int or float"])
    }

    func testADeclaredButUnusedParamIsAWarningOnly() throws {
        let result = loadPipeline(yaml: """
            name: demo
            params:
              spare: { type: int, default: 1 }
            source:
              type: counter
            sinks:
              - type: discard
            """)
        assertSingleDiagnostic(result, line: 3, column: 3, field: "params.spare", severity: .warning, contains: ["param 'spare' is declared but no stage uses it"])
        let pipeline = try XCTUnwrap(result.pipeline, "a warning leaves the pipeline valid")
        XCTAssertEqual(pipeline.params.map(\.name), ["spare"])
    }

    func testParamDeclarationsAreRead() throws {
        let pipeline = try requirePipeline(loadPipeline(yaml: """
            name: demo
            params:
              n: { type: int, default: 4, min: 1, max: 9, description: how many }
              colours: { type: list, items: string, default: [red], allowed: [red, green, blue] }
            source:
              type: counter
              count: ${n}
            transforms:
              - type: shape
                label: x
                tags: ${colours}
            sinks:
              - type: discard
            """))
        XCTAssertEqual(pipeline.params, [
            ParamDeclaration(name: "n", kind: .int, defaultValue: 4, minimum: 1, maximum: 9, summary: "how many"),
            ParamDeclaration(name: "colours", kind: .list, itemKind: .string, defaultValue: ["red"], allowed: ["red", "green", "blue"]),
        ])
        XCTAssertEqual((pipeline.transforms.first?.defaultConfiguration as? ShapeTransform.Configuration)?.tags, ["red"])
    }

    // MARK: Endpoints and sharing

    func testDuplicatePathsWithinOnePipeline() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            sinks:
              - type: endpoint
                path: /ws/demo
              - type: endpoint
                path: /ws/demo
            """)
        assertSingleDiagnostic(result, line: 8, column: 11, field: "sinks[1].path", contains: ["the path '/ws/demo' is served by another sink of this pipeline"])
    }

    func testBlockingBackpressureOnASharedPipeline() throws {
        let endless = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
              endless: true
            sinks:
              - type: endpoint
                path: /ws/demo
                backpressure: block
            """)
        assertSingleDiagnostic(endless, line: 8, column: 19, field: "sinks[0].backpressure", contains: ["'block' lets one subscriber hold the source back", "set 'sharing: per_subscriber'"])

        let sharedFinite = loadPipeline(yaml: """
            name: demo
            sharing: shared
            source:
              type: counter
            sinks:
              - type: endpoint
                path: /ws/demo
                backpressure: block
            """)
        assertSingleDiagnostic(sharedFinite, line: 8, column: 19, field: "sinks[0].backpressure", contains: ["'block'"])

        let perSubscriber = try requirePipeline(loadPipeline(yaml: """
            name: demo
            sharing: per_subscriber
            source:
              type: counter
              endless: true
            sinks:
              - type: endpoint
                path: /ws/demo
                backpressure: block
            """))
        XCTAssertFalse(perSubscriber.sharesInstances)
        XCTAssertEqual(perSubscriber.endpointPaths, ["/ws/demo"])

        let finiteAuto = try requirePipeline(loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            sinks:
              - type: endpoint
                path: /ws/demo
                backpressure: block
            """))
        XCTAssertFalse(finiteAuto.sharesInstances, "a finite pipeline under 'auto' runs per subscriber, so it may block")
    }

    // MARK: Several problems

    func testEveryProblemOfAFileIsReportedInFileOrder() {
        let result = loadPipeline(yaml: """
            name: demo
            source:
              type: counter
              count: many
            transforms:
              - type: shape
                factor: -1
                label: x
            sinks:
              - type: discard
                colour: red
            extra: 1
            """)
        XCTAssertEqual(result.diagnostics.compactMap(\.place), [
            Place(line: 4, column: 10, field: "source.count"),
            Place(line: 7, column: 13, field: "transforms[0].factor"),
            Place(line: 11, column: 5, field: "sinks[0].colour"),
            Place(line: 12, column: 1, field: "extra"),
        ], describe(result.diagnostics))
        XCTAssertNil(result.pipeline)
    }

    func testTheVersionFollowsTheText() throws {
        let first = try requirePipeline(loadPipeline(yaml: "name: a\nsource:\n  type: counter\nsinks:\n  - type: discard\n"))
        let same = try requirePipeline(loadPipeline(yaml: "name: a\nsource:\n  type: counter\nsinks:\n  - type: discard\n"))
        let changed = try requirePipeline(loadPipeline(yaml: "name: a\nsource:\n  type: counter\n  count: 4\nsinks:\n  - type: discard\n"))
        XCTAssertEqual(first.version, same.version)
        XCTAssertNotEqual(first.version, changed.version)
        XCTAssertEqual(first.version.count, 16)
    }
}
