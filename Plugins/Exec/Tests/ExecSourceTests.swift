import Exec
import Foundation
import HyphaeCore
import HyphaeTesting
import Logging
import XCTest

/// The `exec_source` stage against real Python programs.
final class ExecSourceTests: XCTestCase {
    func testAFiniteProgramProducesItsFramesAndCompletes() async throws {
        let programs = try PythonPrograms()
        try programs.write("count.py", """
            import json
            n = 500
            for i in range(1, n + 1):
                print(json.dumps({"type": "reading", "essential": i == n, "payload": {"i": i}}))
            """)
        let (end, recorder) = try await runPipeline(pipelineYAML(
            name: "readings", source: ["type: exec_source", "finite: true"] + programs.stageLines("count.py")))
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(recorder.frames.map { $0.payload["i"] }, (1...500).map { .int($0) })
        XCTAssertEqual(recorder.frames.map(\.type), Array(repeating: "reading", count: 500))
        XCTAssertEqual(recorder.frames.last?.delivery, .essential)
        XCTAssertEqual(recorder.frames.map(\.sequence), Array(0..<500))
    }

    func testFiniteIsWhatTheFileSays() throws {
        let programs = try PythonPrograms()
        try programs.write("count.py", "")
        let finite = loadPipeline(yaml: pipelineYAML(name: "f", source: ["type: exec_source", "finite: true"] + programs.stageLines("count.py")), registry: execRegistry())
        let endless = loadPipeline(yaml: pipelineYAML(name: "e", source: ["type: exec_source"] + programs.stageLines("count.py")), registry: execRegistry())
        XCTAssertEqual(finite.pipeline?.isFinite, true)
        XCTAssertEqual(endless.pipeline?.isFinite, false)
    }

    func testOneLineMayCarrySeveralFrames() async throws {
        let programs = try PythonPrograms()
        try programs.write("pairs.py", """
            import json
            for i in range(3):
                print(json.dumps({"frames": [{"type": "a", "payload": {"i": i}}, {"type": "b", "timestamp": 5, "payload": {"i": i}}]}))
            """)
        var source = makeSource(programs.stageYAML("pairs.py"))
        var frames: [Frame] = []
        while let frame = try await source.next() { frames.append(frame) }
        XCTAssertEqual(frames.map(\.type), ["a", "b", "a", "b", "a", "b"])
        XCTAssertEqual(frames.map { $0.payload["i"] }, [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(frames[1].timestamp, 5)
    }

    func testACrashedProgramIsRestartedAndOtherwiseTheStreamEndsWithAnError() async throws {
        let programs = try PythonPrograms()
        try programs.write("crashy.py", """
            import json, sys
            for i in range(3):
                print(json.dumps({"type": "n", "payload": {"i": i}}), flush=True)
            sys.stdout.write('{"type": "n", "pay')
            sys.stdout.flush()
            sys.exit(2)
            """)
        let recorder = LogRecorder()
        let context = StageContext(pipeline: "crashy", instance: "test", logger: recorder.logger())
        var restarted = makeSource(programs.stageYAML("crashy.py", "restart_backoff_ms: 1"), context: context)
        var frames: [Frame] = []
        for _ in 0..<6 {
            if let frame = try await restarted.next() { frames.append(frame) }
        }
        XCTAssertEqual(frames.map { $0.payload["i"] }, [0, 1, 2, 0, 1, 2])
        XCTAssertEqual(restarted.restarts, 1)
        XCTAssertEqual(restarted.framesLost, 1, "the half-written last line is a lost frame")
        let failure = try XCTUnwrap(recorder.entries(withEvent: "exec_failed").first)
        XCTAssertEqual(failure.metadata["reason"], "exited with status 2 in the middle of a line")
        XCTAssertEqual(failure.metadata["pipeline"], "crashy")

        var brittle = makeSource(programs.stageYAML("crashy.py", "restart: never"))
        for _ in 0..<3 { _ = try await brittle.next() }
        do {
            _ = try await brittle.next()
            XCTFail("without restarts the crash ends the stream")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("exited with status 2 in the middle of a line, and restart is 'never'"), error.message)
        }
    }

    func testRestartAlwaysStartsAProgramThatExitedCleanly() async throws {
        let programs = try PythonPrograms()
        try programs.write("once.py", "print('{\"type\": \"once\"}')\n")
        var source = makeSource(programs.stageYAML("once.py", "restart: always", "restart_backoff_ms: 1", "max_restarts: 3"))
        var frames: [Frame] = []
        do {
            while let frame = try await source.next() { frames.append(frame) }
            XCTFail("restart: always never completes; the budget ends it")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("exited with status 0, after 3 restarts"), error.message)
        }
        XCTAssertEqual(frames.count, 4)
    }

    func testASlowPipelineHoldsTheProgramBack() async throws {
        let programs = try PythonPrograms()
        let progress = programs.folder.url.appendingPathComponent("progress").path
        try programs.write("flood.py", """
            import json, os
            i = 0
            while True:
                i += 1
                print(json.dumps({"type": "n", "payload": {"i": i, "pad": "x" * 40}}), flush=True)
                if i % 100 == 0:
                    with open(\(String(reflecting: progress)), "w") as f:
                        f.write(str(i))
            """)
        var source = makeSource(programs.stageYAML("flood.py"))
        let first = try await source.next()
        XCTAssertEqual(first?.payload["i"], 1)
        // The pipeline takes nothing for a while; the program must stop at the bounds.
        try await Task.sleep(for: .milliseconds(1500))
        let written = Int((try? String(contentsOfFile: progress, encoding: .utf8)) ?? "") ?? 0
        // A line is about 75 bytes: a 64 KiB pipe, at most 64 KiB read at once and 16
        // held lines are under 2,000 of them. Unbounded, it would write millions.
        XCTAssertLessThan(written, 2_300, "the program was held back by its pipe")
        var next = 2
        for _ in 0..<5_000 {
            let frame = try await source.next()
            XCTAssertEqual(frame?.payload["i"], .int(next), "nothing is dropped while the program waits")
            next += 1
        }
    }

    func testALongSilenceIsAFailureOnlyWhenAFrameTimeoutIsSet() async throws {
        let programs = try PythonPrograms()
        try programs.write("quiet.py", """
            import time
            print('{"type": "hello"}', flush=True)
            time.sleep(30)
            """)
        var source = makeSource(programs.stageYAML("quiet.py", "frame_timeout_ms: 200", "restart: never"))
        _ = try await source.next()
        do {
            _ = try await source.next()
            XCTFail("the program said nothing for longer than frame_timeout_ms")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("wrote no frame within frame_timeout_ms (200 ms), and restart is 'never'"), error.message)
        }
    }
}
