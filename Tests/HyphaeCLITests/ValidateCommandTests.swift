import Foundation
import HyphaeTesting
import XCTest

/// Runs the built `hyphae validate` and checks what it prints and how it exits.
final class ValidateCommandTests: XCTestCase {
    private let finite = """
        name: finite
        source:
          type: ticker
          rate: 0
          count: 4
        sinks:
          - type: stdout
        """

    func testTheShippedPipelinesAreValid() throws {
        let result = try runHyphae(["validate", "pipelines"])
        XCTAssertEqual(result.status, 0, result.description)
        let files = PackagePaths.pipelineFiles
        XCTAssertFalse(files.isEmpty, "the package ships pipelines")
        XCTAssertEqual(result.outputLines.count, files.count, "one line per pipeline\n\(result)")
        XCTAssertTrue(result.outputLines.allSatisfy { $0.hasPrefix("pipelines/") && $0.contains(": ok: ") }, result.description)
        XCTAssertEqual(result.standardError, "")
    }

    func testAValidFolderPrintsOneSummaryLinePerPipeline() throws {
        let folder = try TemporaryFolder()
        let first = try folder.write("a.yaml", finite)
        let second = try folder.write("b.yaml", """
            name: endless
            params:
              rate: { type: float, default: 5, min: 1, max: 50 }
            source:
              type: ticker
              rate: ${rate}
            transforms:
              - type: sample
                every: 2
            sinks:
              - type: websocket
                path: /ws/endless
            """)
        let result = try runHyphae(["validate", folder.url.path])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(result.outputLines.count, 2, result.description)
        XCTAssertTrue(result.outputLines.first?.hasPrefix("\(first): ok: finite: ticker -> stdout (no params; finite, a run per subscriber; version ") ?? false, result.description)
        XCTAssertTrue(result.outputLines.last?.hasPrefix("\(second): ok: endless: ticker -> sample -> websocket /ws/endless (params: rate; endless, shared instances; version ") ?? false, result.description)
        XCTAssertEqual(result.standardError, "")
    }

    func testATypoInAStageTypeIsAnErrorWithItsPlaceAndASuggestion() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("typo.yaml", """
            name: typo
            source:
              type: tickr
            sinks:
              - type: stdout
            """)
        let result = try runHyphae(["validate", path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.errorLines, [
            "\(path):3:9: error: source.type: unknown source type 'tickr'; did you mean 'ticker'?",
            "1 error, 0 warnings in 1 file",
        ])
        XCTAssertEqual(result.standardOutput, "", "nothing is valid, so nothing is summarised")
    }

    func testABatchWindowOutOfBoundsIsAnErrorWithItsPlace() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("window.yaml", """
            name: window
            source:
              type: ticker
            sinks:
              - type: websocket
                path: /ws/window
                batch_window_ms: 5000
            """)
        let result = try runHyphae(["validate", path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.errorLines, [
            "\(path):7:22: error: sinks[0].batch_window_ms: expected an integer from 0 to 1000, found '5000'",
            "1 error, 0 warnings in 1 file",
        ])
    }

    func testEveryErrorOfAFileIsPrintedInFileOrder() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("broken.yaml", """
            name: broken
            source:
              type: ticker
              rate: fast
            transforms:
              - type: sampel
            sinks:
              - type: websocket
                path: /health
                qeue_size: 10
            """)
        let result = try runHyphae(["validate", path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.errorLines, [
            "\(path):4:9: error: source.rate: expected a number, found 'fast'",
            "\(path):6:11: error: transforms[0].type: unknown transform type 'sampel'; did you mean 'sample'?",
            "\(path):9:11: error: sinks[0].path: '/health' is served by the host itself; choose another path, e.g. /ws/<pipeline name>",
            "\(path):10:5: error: sinks[0].qeue_size: unknown field 'qeue_size' in stage 'websocket'; did you mean 'queue_size'?",
            "4 errors, 0 warnings in 1 file",
        ])
    }

    func testReservedPaths() throws {
        let folder = try TemporaryFolder()
        for reserved in ["/ws", "/ws/heartbeat", "/health", "/ready", "/metrics", "/pipelines", "/admin/reload", "/", "/hyphae.js"] {
            let path = try folder.write("reserved.yaml", "name: r\nsource:\n  type: ticker\nsinks:\n  - type: websocket\n    path: \(reserved)\n")
            let result = try runHyphae(["validate", path])
            XCTAssertEqual(result.status, 1, result.description)
            XCTAssertEqual(result.errorLines.first, "\(path):6:11: error: sinks[0].path: '\(reserved)' is served by the host itself; choose another path, e.g. /ws/<pipeline name>")
        }
        let relative = try folder.write("relative.yaml", "name: r\nsource:\n  type: ticker\nsinks:\n  - type: websocket\n    path: ws/x\n")
        let result = try runHyphae(["validate", relative])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertTrue(result.errorLines.first?.contains("expected a URL path starting with '/'") ?? false, result.description)
    }

    func testBlockingBackpressureOnASharedEndlessPipeline() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("block.yaml", """
            name: block
            source:
              type: ticker
            sinks:
              - type: websocket
                path: /ws/block
                backpressure: block
            """)
        let result = try runHyphae(["validate", path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertTrue(result.errorLines.first?.hasPrefix("\(path):7:19: error: sinks[0].backpressure: 'block' lets one subscriber hold the source back") ?? false, result.description)
    }

    func testDuplicateNamesAndPathsAcrossFiles() throws {
        let folder = try TemporaryFolder()
        try folder.write("a.yaml", "name: same\nsource:\n  type: ticker\nsinks:\n  - type: websocket\n    path: /ws/a\n")
        let second = try folder.write("b.yaml", "name: same\nsource:\n  type: ticker\nsinks:\n  - type: websocket\n    path: /ws/b\n")
        let third = try folder.write("c.yaml", "name: other\nsource:\n  type: ticker\nsinks:\n  - type: websocket\n    path: /ws/a\n")
        let result = try runHyphae(["validate", folder.url.path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertTrue(result.errorLines.contains { $0.hasPrefix("\(second):1:7: error: name: a pipeline named 'same' is already defined in 'same'") }, result.description)
        XCTAssertTrue(result.errorLines.contains { $0.hasPrefix("\(third):6:11: error: sinks[0].path: the path '/ws/a' is already served by pipeline 'same'") }, result.description)
        XCTAssertEqual(result.outputLines.count, 1, "the first file stays valid\n\(result)")
    }

    func testWarningsPassUnlessStrict() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("unused.yaml", """
            name: unused
            params:
              spare: { type: int, default: 1 }
            source:
              type: ticker
            sinks:
              - type: stdout
            """)
        let relaxed = try runHyphae(["validate", path])
        XCTAssertEqual(relaxed.status, 0, relaxed.description)
        XCTAssertEqual(relaxed.errorLines, ["\(path):3:3: warning: params.spare: param 'spare' is declared but no stage uses it"])
        XCTAssertEqual(relaxed.outputLines.count, 1)
        let strict = try runHyphae(["validate", "--strict", path])
        XCTAssertEqual(strict.status, 1, strict.description)
        XCTAssertEqual(strict.errorLines.last, "0 errors, 1 warning in 1 file")
    }

    func testAMissingFile() throws {
        let result = try runHyphae(["validate", "no/such/file.yaml"])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertTrue(result.standardError.contains("no/such/file.yaml: no such file or folder"), result.description)
    }
}
