import HyphaeCore
import HyphaeTesting
import XCTest

/// The checks between files: names and paths must be unique across a folder.
final class CatalogTests: XCTestCase {
    private func pipeline(name: String, path: String) -> String {
        """
        name: \(name)
        source:
          type: counter
        sinks:
          - type: endpoint
            path: \(path)
        """
    }

    func testDuplicateNamesAcrossFiles() throws {
        let catalog = loadCatalog(files: [
            ("a.yaml", pipeline(name: "demo", path: "/ws/a")),
            ("b.yaml", pipeline(name: "demo", path: "/ws/b")),
        ])
        XCTAssertEqual(catalog.files.map(\.isValid), [true, false])
        let diagnostic = try XCTUnwrap(catalog.diagnostics.first, "the second file must be reported")
        XCTAssertEqual(catalog.diagnostics.count, 1, describe(catalog.diagnostics))
        XCTAssertEqual(diagnostic.location, SourceLocation(file: "b.yaml", line: 1, column: 7))
        XCTAssertEqual(diagnostic.field, "name")
        XCTAssertTrue(diagnostic.message.contains("a pipeline named 'demo' is already defined in 'demo' (a.yaml)"), diagnostic.description)
        XCTAssertEqual(catalog.pipelines.map(\.file), ["a.yaml"], "the earlier file keeps the name")
        XCTAssertTrue(catalog.hasErrors)
    }

    func testDuplicatePathsAcrossFiles() throws {
        let catalog = loadCatalog(files: [
            ("a.yaml", pipeline(name: "first", path: "/ws/shared")),
            ("b.yaml", pipeline(name: "second", path: "/ws/shared")),
        ])
        let diagnostic = try XCTUnwrap(catalog.diagnostics.first)
        XCTAssertEqual(catalog.diagnostics.count, 1, describe(catalog.diagnostics))
        XCTAssertEqual(diagnostic.location, SourceLocation(file: "b.yaml", line: 6, column: 11))
        XCTAssertEqual(diagnostic.field, "sinks[0].path")
        XCTAssertTrue(diagnostic.message.contains("the path '/ws/shared' is already served by pipeline 'first' (a.yaml)"), diagnostic.description)
        XCTAssertEqual(catalog.pipelines.map(\.name), ["first"])
        XCTAssertNotNil(catalog["first"])
        XCTAssertNil(catalog["second"])
    }

    func testAnInvalidFileDoesNotClaimItsNameOrPath() {
        let catalog = loadCatalog(files: [
            ("a.yaml", pipeline(name: "demo", path: "/ws/demo") + "\nextra: 1"),
            ("b.yaml", pipeline(name: "demo", path: "/ws/demo")),
        ])
        XCTAssertEqual(catalog.files.map(\.isValid), [false, true], describe(catalog.diagnostics))
        XCTAssertEqual(catalog.pipelines.map(\.file), ["b.yaml"])
    }

    func testDistinctPipelinesAllLoad() {
        let catalog = loadCatalog(files: [
            ("a.yaml", pipeline(name: "first", path: "/ws/first")),
            ("b.yaml", pipeline(name: "second", path: "/ws/second")),
        ])
        XCTAssertFalse(catalog.hasErrors, describe(catalog.diagnostics))
        XCTAssertEqual(catalog.pipelines.map(\.name), ["first", "second"])
    }

    func testLoadingAFolderReadsItsYAMLFilesInNameOrder() throws {
        let folder = try TemporaryFolder()
        try folder.write("b.yaml", pipeline(name: "second", path: "/ws/second"))
        try folder.write("a.yml", pipeline(name: "first", path: "/ws/first"))
        try folder.write("notes.txt", "not a pipeline")
        try folder.write(".hidden.yaml", "not: read")
        let catalog = PipelineCatalog.load(paths: [folder.url.path], loader: PipelineLoader(registry: TestStagesPlugin.registry(), environment: [:]))
        XCTAssertFalse(catalog.hasErrors, describe(catalog.diagnostics))
        XCTAssertEqual(catalog.pipelines.map(\.name), ["first", "second"])
        XCTAssertEqual(catalog.files.map { URL(fileURLWithPath: $0.file).lastPathComponent }, ["a.yml", "b.yaml"])
    }

    func testWhichFolderEntriesArePipelineFiles() {
        for name in ["ticker.yaml", "a.yml", "with.dots.yaml", "x.yaml.yml"] {
            XCTAssertTrue(PipelineCatalog.isPipelineFile(named: name), name)
        }
        for name in [".hidden.yaml", ".a.yml", "notes.txt", "ticker.yaml.swp", "ticker.yaml~", "ticker.YAML", "yaml", "", "ticker.test.yaml", "a.test.yml"] {
            XCTAssertFalse(PipelineCatalog.isPipelineFile(named: name), name)
        }
    }

    func testWhichFolderEntriesArePipelineTests() {
        for name in ["ticker.test.yaml", "a.test.yml", "with.dots.test.yaml"] {
            XCTAssertTrue(PipelineCatalog.isPipelineTestFile(named: name), name)
        }
        for name in ["ticker.yaml", ".ticker.test.yaml", ".test.yaml", "test.yaml", "ticker.test.yaml.swp", "ticker.tests.yaml"] {
            XCTAssertFalse(PipelineCatalog.isPipelineTestFile(named: name), name)
        }
    }

    func testAFolderWithTestsLoadsOnlyItsPipelinesAndFindsWhatEachTestTests() throws {
        let folder = try TemporaryFolder()
        try folder.write("a.yaml", pipeline(name: "first", path: "/ws/first"))
        try folder.write("a.test.yaml", "cases: []")
        try folder.write("b.yml", pipeline(name: "second", path: "/ws/second"))
        try folder.write("b.test.yml", "cases: []")
        try folder.write("orphan.test.yaml", "cases: []")
        let catalog = PipelineCatalog.load(paths: [folder.url.path], loader: PipelineLoader(registry: TestStagesPlugin.registry(), environment: [:]))
        XCTAssertFalse(catalog.hasErrors, describe(catalog.diagnostics))
        XCTAssertEqual(catalog.pipelines.map(\.name), ["first", "second"])
        let tests = PipelineCatalog.pipelineTestFiles(in: folder.url.path)
        XCTAssertEqual(tests.map { URL(fileURLWithPath: $0).lastPathComponent }, ["a.test.yaml", "b.test.yml", "orphan.test.yaml"])
        XCTAssertEqual(tests.map { PipelineCatalog.testedPipelineFile(ofTestFile: $0).map { URL(fileURLWithPath: $0).lastPathComponent } }, ["a.yaml", "b.yml", nil])
    }

    func testMissingPathsAndEmptyFolders() throws {
        let folder = try TemporaryFolder()
        let loader = PipelineLoader(registry: TestStagesPlugin.registry(), environment: [:])
        let missing = PipelineCatalog.load(paths: [folder.url.appendingPathComponent("nothing.yaml").path], loader: loader)
        XCTAssertTrue(missing.hasErrors)
        XCTAssertTrue(missing.diagnostics.first?.message.contains("no such file or folder") ?? false, describe(missing.diagnostics))
        let empty = PipelineCatalog.load(paths: [folder.url.path], loader: loader)
        XCTAssertFalse(empty.hasErrors)
        XCTAssertEqual(empty.diagnostics.map(\.severity), [.warning])
        XCTAssertTrue(empty.diagnostics.first?.message.contains("no *.yaml or *.yml files") ?? false, describe(empty.diagnostics))
    }

    func testAFileThatIsNotUTF8() throws {
        let folder = try TemporaryFolder()
        let path = folder.url.appendingPathComponent("binary.yaml").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data([0x6E, 0x61, 0xFF, 0xFE, 0x0A])))
        let result = PipelineLoader(registry: TestStagesPlugin.registry(), environment: [:]).load(file: path)
        XCTAssertEqual(result.diagnostics.first?.location, SourceLocation(file: path, line: 1, column: 1))
        XCTAssertTrue(result.diagnostics.first?.message.contains("not UTF-8") ?? false, describe(result.diagnostics))
    }
}
