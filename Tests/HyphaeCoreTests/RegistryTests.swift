import HyphaeCore
import HyphaeTesting
import XCTest

final class RegistryTests: XCTestCase {
    func testAnEmptyRegistryKnowsNothing() {
        let registry = StageRegistry()
        XCTAssertTrue(registry.all.isEmpty)
        XCTAssertNil(registry["counter"])
        XCTAssertEqual(registry.types(of: .source), [])
        XCTAssertEqual(registry.conflicts, [])
    }

    func testRegisteredStagesAreFoundByTypeWithTheirKind() throws {
        let registry = TestStagesPlugin.registry()
        XCTAssertEqual(registry["counter"]?.kind, .source)
        XCTAssertEqual(registry["shape"]?.kind, .transform)
        XCTAssertEqual(registry["hold"]?.kind, .transform)
        XCTAssertEqual(registry["discard"]?.kind, .sink)
        XCTAssertEqual(registry["endpoint"]?.kind, .sink)
        XCTAssertEqual(registry["counter"]?.summary, CounterSource.summary)
        XCTAssertNil(registry["Counter"], "types are case-sensitive")
        XCTAssertEqual(registry.conflicts, [])
    }

    func testListingIsBySourcesThenTransformsThenSinksAndByName() {
        let registry = TestStagesPlugin.registry()
        XCTAssertEqual(registry.all.map(\.type), ["counter", "hold", "shape", "discard", "endpoint"])
        XCTAssertEqual(registry.types(of: .source), ["counter"])
        XCTAssertEqual(registry.types(of: .transform), ["hold", "shape"])
        XCTAssertEqual(registry.types(of: .sink), ["discard", "endpoint"])
    }

    func testRegisteringATypeTwiceIsRecordedAsAConflict() {
        var registry = TestStagesPlugin.registry()
        registry.register(CounterSource.self)
        registry.register(.sink(type: "shape", summary: "a sink that takes a transform's name", configuration: DiscardSink.Configuration.self) { configuration, context in
            DiscardSink(configuration: configuration, context: context)
        })
        XCTAssertEqual(registry.conflicts, ["counter", "shape"])
        XCTAssertEqual(registry["shape"]?.kind, .sink, "the later registration replaces the earlier one")
    }

    func testFieldsDescribeEveryConfigurationField() throws {
        let fields = try XCTUnwrap(TestStagesPlugin.registry()["shape"]).fields
        XCTAssertEqual(fields.map(\.name), ["factor", "ratio", "copies", "enabled", "label", "mode", "tags"])
        XCTAssertEqual(fields.map(\.type), ["float", "float", "int", "bool", "string", "string", "list of strings"])
        XCTAssertEqual(fields.map(\.defaultText), ["1", "0.5", "1", "true", nil, "keep", "[]"])
        XCTAssertEqual(fields.map(\.defaultValue), [.double(1), .double(0.5), .int(1), .bool(true), nil, .string("keep"), .array([])])
        XCTAssertEqual(fields.map(\.isRequired), [false, false, false, false, true, false, false])
        XCTAssertEqual(fields.map(\.constraint), ["from 0 to 100", "from 0 to below 1", "from 1 to 10", nil, nil, "one of: keep, mark", "each one of: red, green, blue"])
        XCTAssertEqual(fields.first?.summary, "a number with inclusive bounds")
    }

    func testOptionalFieldsAreNeitherRequiredNorDefaulted() throws {
        let fields = try XCTUnwrap(TestStagesPlugin.registry()["counter"]).fields
        XCTAssertEqual(fields.map(\.name), ["count", "endless", "fail_after"])
        let failAfter = try XCTUnwrap(fields.last)
        XCTAssertNil(failAfter.defaultValue)
        XCTAssertNil(failAfter.defaultText)
        XCTAssertFalse(failAfter.isRequired)
        XCTAssertEqual(failAfter.constraint, "of at least 0")
        XCTAssertEqual(TestStagesPlugin.registry()["discard"]?.fields, [])
    }

    func testFieldsKeepTheirBoundsAndAllowedValuesAsData() throws {
        let fields = try XCTUnwrap(TestStagesPlugin.registry()["shape"]).fields
        XCTAssertEqual(fields.map(\.minimum), [0, 0, 1, nil, nil, nil, nil])
        XCTAssertEqual(fields.map(\.maximum), [100, nil, 10, nil, nil, nil, nil])
        XCTAssertEqual(fields.map(\.below), [nil, 1, nil, nil, nil, nil, nil])
        XCTAssertEqual(fields.map(\.allowedValues), [nil, nil, nil, nil, nil, ["keep", "mark"], ["red", "green", "blue"]])
    }

    func testAFieldAsJSONHasItsBoundsInItsOwnTypeAndOnlyWhenItHasThem() throws {
        let fields = try XCTUnwrap(TestStagesPlugin.registry()["shape"]).fields
        XCTAssertEqual(
            fields[2].descriptionJSON.jsonText,
            #"{"name":"copies","type":"int","default":1,"required":false,"min":1,"max":10,"description":"\#(fields[2].summary)"}"#)
        XCTAssertEqual(
            fields[1].descriptionJSON.jsonText,
            #"{"name":"ratio","type":"float","default":0.5,"required":false,"min":0.0,"below":1.0,"description":"\#(fields[1].summary)"}"#)
        XCTAssertEqual(
            fields[4].descriptionJSON.jsonText,
            #"{"name":"label","type":"string","default":null,"required":true,"description":"\#(fields[4].summary)"}"#)
        XCTAssertEqual(fields[5].descriptionJSON["allowed"], ["keep", "mark"])
    }

    func testAStageAsJSONListsItsTypeKindSummaryAndFieldsInOrder() throws {
        let descriptor = try XCTUnwrap(TestStagesPlugin.registry()["counter"])
        let object = try XCTUnwrap(descriptor.descriptionJSON.objectValue)
        XCTAssertEqual(object.keys, ["type", "kind", "summary", "fields"])
        XCTAssertEqual(object["type"], "counter")
        XCTAssertEqual(object["kind"], "source")
        XCTAssertEqual(object["summary"], .string(CounterSource.summary))
        XCTAssertEqual(object["fields"]?.arrayValue?.compactMap { $0["name"]?.stringValue }, ["count", "endless", "fail_after"])
    }

    func testDescribingFieldsReportsNoProblems() {
        var reader = ConfigReader(describing: "shape")
        _ = ShapeTransform.Configuration(reading: &reader)
        XCTAssertTrue(reader.isDescribing)
        XCTAssertEqual(reader.diagnostics, [], "a missing required field is not a problem while describing")
    }
}
