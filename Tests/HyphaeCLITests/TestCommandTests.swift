import Foundation
import HyphaeTesting
import XCTest

/// `hyphae test`: pipeline tests in NAME.test.yaml beside NAME.yaml, run without a server.
final class TestCommandTests: XCTestCase {
    /// A counter thinned to every second frame and smoothed over two: both a source
    /// to run and transforms to feed.
    private let pipeline = """
        name: thin
        params:
          every: { type: int, default: 2, min: 1 }
        source:
          type: ticker
          rate: 0
        transforms:
          - type: sample
            every: ${every}
          - type: moving_average
            field: count
            window: 2
        sinks:
          - type: websocket
            path: /ws/thin
        """

    private func folder(tests: String) throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        try folder.write("thin.yaml", pipeline)
        try folder.write("thin.test.yaml", tests)
        return folder
    }

    func testEveryBundledPipelineHasTestsAndTheyPass() throws {
        for file in PackagePaths.pipelineFiles {
            let tests = file.replacingOccurrences(of: ".yaml", with: ".test.yaml")
            XCTAssertTrue(FileManager.default.fileExists(atPath: tests), "\(file) has no tests; write them in \(tests)")
        }
        let result = try runHyphae(["test", "pipelines/"], timeout: 120)
        XCTAssertEqual(result.status, 0, result.description)
        let caseLines = result.outputLines.dropLast()
        XCTAssertGreaterThanOrEqual(caseLines.count, PackagePaths.pipelineFiles.count, result.description)
        XCTAssertTrue(caseLines.allSatisfy { $0.hasPrefix("PASS ") }, result.description)
        XCTAssertEqual(result.outputLines.last, "\(caseLines.count) cases in \(PackagePaths.pipelineFiles.count) files: \(caseLines.count) passed, 0 failed")
    }

    func testPassingCasesPrintOneLineEachAndExitZero() throws {
        let folder = try folder(tests: """
            cases:
              - name: keeps every second count
                source_frames: 6
                expect:
                  count: 3
                  frames:
                    - { type: tick, sequence: 0, payload: { count: 2, count_avg: 2 } }
                    - { payload: { count: 4, count_avg: 3.0 } }
                  last: { payload: { count: 6, count_avg: { equals: 5, tolerance: 0.001 } } }
                  every: { payload: { count_avg: { type: float, min: 2, max: 5 } } }
              - name: frames fed to the transforms
                params: { every: 1 }
                input:
                  - { type: reading, payload: { count: 1.5 } }
                  - { type: reading, payload: { count: 2.5, unit: mV }, essential: true }
                expect:
                  frames:
                    - { type: reading, essential: false, payload: { count_avg: 1.5, unit: { exists: false } } }
                    - { type: reading, essential: true, payload: { count_avg: 2, unit: mV } }
            """)
        let result = try runHyphae(["test", folder.url.path])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(result.outputLines, [
            "PASS thin: keeps every second count",
            "PASS thin: frames fed to the transforms",
            "2 cases in 1 file: 2 passed, 0 failed",
        ])
        XCTAssertEqual(result.standardError, "")
    }

    func testAFailingCaseShowsTheExpectedAndTheActualFrameAsADiff() throws {
        let folder = try folder(tests: """
            cases:
              - name: passes
                source_frames: 2
                expect: { count: 1 }
              - name: wrong count and frame
                source_frames: 4
                expect:
                  count: 3
                  frames:
                    - { type: tick, payload: { count: 2 } }
                    - { type: tock, payload: { count: 5, count_avg: { equals: 3.5, tolerance: 0.1 }, extra: { exists: true } } }
            """)
        let path = folder.url.appendingPathComponent("thin.test.yaml").path
        let result = try runHyphae(["test", path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.outputLines, [
            "PASS thin: passes",
            "FAIL thin: wrong count and frame",
            "    \(path):8:14: cases[1].expect.count: expected 3 frames, got 2",
            #"      frame 0: {"type":"tick","sequence":0,"payload":{"count":2,"count_avg":2.0}}"#,
            #"      frame 1: {"type":"tick","sequence":1,"payload":{"count":4,"count_avg":3.0}}"#,
            "    \(path):11:11: cases[1].expect.frames[1]: frame 1 does not match",
            #"      - type: "tock""#,
            #"      + type: "tick""#,
            "      - payload.count: 5",
            "      + payload.count: 4",
            "      - payload.count_avg: 3.5 ± 0.1",
            "      + payload.count_avg: 3.0",
            "      - payload.extra: present",
            "      + payload.extra: absent",
            #"      actual frame 1: {"type":"tick","sequence":1,"payload":{"count":4,"count_avg":3.0}}"#,
            "2 cases in 1 file: 1 passed, 1 failed",
        ])
    }

    func testMatchedChecksStayInTheDiffWithoutAMark() throws {
        let folder = try folder(tests: """
            cases:
              - name: one of two fields is off
                source_frames: 2
                expect:
                  last: { type: tick, payload: { count: 2, count_avg: { type: int } } }
            """)
        let result = try runHyphae(["test", folder.url.path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(Array(result.outputLines.dropFirst(2).prefix(4)), [
            #"        type: "tick""#,
            "        payload.count: 2",
            "      - payload.count_avg: an int",
            "      + payload.count_avg: 2.0 (a float)",
        ], result.description)
    }

    func testExpectedErrorsAndUnexpectedOnes() throws {
        let folder = try TemporaryFolder()
        try folder.write("delta.yaml", """
            name: delta
            source: { type: ticker, rate: 0 }
            transforms:
              - { type: compress, delta: true }
            sinks:
              - { type: stdout }
            """)
        try folder.write("delta.test.yaml", """
            cases:
              - name: a payload that takes the marker's name is refused
                input:
                  - { type: t, payload: { x: 1 } }
                  - { type: t, payload: { delta: 1 } }
                expect:
                  count: 1
                  error: already has a member 'delta'
              - name: the same without saying so
                input:
                  - { type: t, payload: { delta: 1 } }
                expect: {}
              - name: an error that does not come
                source_frames: 1
                expect: { error: boom }
            """)
        let result = try runHyphae(["test", folder.url.path])
        XCTAssertEqual(result.status, 1, result.description)
        let path = folder.url.appendingPathComponent("delta.test.yaml").path
        XCTAssertEqual(result.outputLines, [
            "PASS delta: a payload that takes the marker's name is refused",
            "FAIL delta: the same without saying so",
            "    \(path):9:5: the pipeline failed: compress: a 't' payload already has a member 'delta', which delta encoding needs for its marker; rename that field in an earlier stage or turn delta off",
            "FAIL delta: an error that does not come",
            "    \(path):15:22: cases[2].expect.error: expected the run to fail with a message containing 'boom'; it completed with 1 frame",
            #"      frame 0: {"type":"tick","sequence":0,"payload":{"count":1,"delta":{"keyframe":true}}}"#,
            "3 cases in 1 file: 1 passed, 2 failed",
        ])
    }

    func testACaseThatOutlivesItsTimeoutFails() throws {
        let folder = try folder(tests: """
            cases:
              - name: too slow
                params: { every: 1 }
                source_frames: 1000000
                timeout_ms: 200
                expect: { count: { min: 1 } }
            """)
        try folder.write("thin.yaml", pipeline.replacingOccurrences(of: "rate: 0", with: "rate: 20"))
        let result = try runHyphae(["test", folder.url.path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.outputLines.first, "FAIL thin: too slow")
        XCTAssertTrue(result.outputLines.dropFirst().first?.contains(":2:5: the case did not finish within 200 ms (") ?? false, result.description)
        XCTAssertTrue(result.standardOutput.contains("run fewer source_frames, raise the source's rate with params, or set timeout_ms"), result.description)
    }

    func testProblemsInATestFileAreReportedWithTheirPlaceAndNothingRuns() throws {
        let folder = try folder(tests: """
            cases:
              - name: typos
                parms: { every: 2 }
                source_frames: 0
                expect:
                  count: { equal: 3 }
                  frames:
                    - { type: tick, payload: { count: { min: 3, max: 1, type: integer } } }
                  every: { payload: { a..b: 1, x: { tolerance: 0.1 } } }
              - name: params and the source
                params: { evry: 2 }
                expect: { count: 1 }
              - name: an endless source
                params: { every: 3 }
                expect: { count: 1 }
              - name: typos
                input: [ { payload: {} } ]
                expect: { count: 1 }
            """)
        let path = folder.url.appendingPathComponent("thin.test.yaml").path
        let result = try runHyphae(["test", folder.url.path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.errorLines, [
            "\(path):3:5: error: cases[0].parms: unknown field 'parms' in a case; did you mean 'params'?",
            "\(path):4:20: error: cases[0].source_frames: expected an integer from 1 to 1000000, found '0'",
            "\(path):6:16: error: cases[0].expect.count.equal: unknown condition 'equal'; did you mean 'equals'?",
            "\(path):8:50: error: cases[0].expect.frames[0].payload.count.min: min (3) is above max (1)",
            "\(path):8:67: error: cases[0].expect.frames[0].payload.count.type: expected one of int, float, number, string, bool, list, object, null, found 'integer'",
            "\(path):9:27: error: cases[0].expect.every.payload.a..b: expected a dotted path such as features.pot_mean_mV, found 'a..b'",
            "\(path):9:41: error: cases[0].expect.every.payload.x.tolerance: 'tolerance' applies to the numbers of 'equals'; add equals: <number>",
            "\(path):11:15: error: cases[1].params.evry: 'thin' has no param 'evry'; did you mean 'every'? (allowed: every)",
            "\(path):13:5: error: cases[2].source_frames: the source 'ticker' of 'thin' does not end by itself with these params; set 'source_frames: N' to stop it after N frames, or feed frames with 'input'",
            "\(path):16:11: error: cases[3].name: a case named 'typos' is already defined at line 2; give each case its own name",
            "\(path):17:14: error: cases[3].input[0].type: missing required field 'type' (the frame's message type, e.g. tick)",
            "error: \(path): 11 errors, so its cases did not run",
        ], result.description)
        XCTAssertEqual(result.outputLines, ["0 cases in 0 files: 0 passed, 0 failed; 1 path or file could not run (errors above)"])
    }

    func testInvalidYAMLIsReportedAtItsLine() throws {
        let folder = try folder(tests: "cases:\n  - name: [unclosed\n")
        let result = try runHyphae(["test", folder.url.path])
        XCTAssertEqual(result.status, 1, result.description)
        let first = try XCTUnwrap(result.errorLines.first)
        XCTAssertTrue(first.hasPrefix("\(folder.url.path)/thin.test.yaml:3:1: error: invalid YAML: "), result.description)
    }

    func testPathsThatNameNoTests() throws {
        let folder = try TemporaryFolder()
        let pipelinePath = try folder.write("thin.yaml", pipeline)
        try folder.write("lonely.test.yaml", "cases: []")
        let result = try runHyphae(["test", pipelinePath, folder.url.appendingPathComponent("lonely.test.yaml").path, folder.url.appendingPathComponent("nothing").path])
        XCTAssertEqual(result.status, 1, result.description)
        XCTAssertEqual(result.errorLines, [
            "error: \(pipelinePath): no tests for this pipeline; write them in \(folder.url.path)/thin.test.yaml",
            "error: \(folder.url.path)/nothing: no such file or folder",
            "error: \(folder.url.path)/lonely.test.yaml: no pipeline file lonely.yaml beside it; a test file is named after the pipeline file it tests",
        ])
    }

    func testAMistakeInTheCommandLineIsAUsageError() throws {
        let result = try runHyphae(["test", "--frames", "3"])
        XCTAssertEqual(result.status, 64, result.description)
        XCTAssertTrue(result.standardError.contains("Usage: hyphae test"), result.description)
    }

    func testTestFilesAreNotPipelines() throws {
        let folder = try folder(tests: "cases:\n  - name: x\n    source_frames: 1\n    expect: { count: 1 }\n")
        let result = try runHyphae(["validate", folder.url.path])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(result.outputLines.count, 1, result.description)
        XCTAssertTrue(result.outputLines.first?.hasPrefix("\(folder.url.path)/thin.yaml: ok: thin:") ?? false, result.description)
    }
}
