import Exec
import Foundation
import HyphaeCore
import HyphaeTesting
import Logging
import XCTest

/// The `exec` transform against real Python programs.
final class ExecTransformTests: XCTestCase {
    func testFramesAreTransformedInOrder() async throws {
        let programs = try PythonPrograms()
        try programs.write("doubler.py", PythonPrograms.doubler)
        let (end, recorder) = try await runPipeline(pipelineYAML(
            name: "doubled", source: ["type: counter", "count: 200"],
            transforms: [["type: exec"] + programs.stageLines("doubler.py")]))
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(recorder.frames.map { $0.payload["count"] }, (1...200).map { .int($0) })
        XCTAssertEqual(recorder.frames.map { $0.payload["doubled"] }, (1...200).map { .int($0 * 2) })
        XCTAssertEqual(recorder.frames.map(\.type), Array(repeating: "count", count: 200))
        XCTAssertEqual(recorder.frames.last?.delivery, .essential, "an echoed frame keeps 'essential'")
        XCTAssertEqual(recorder.frames.first?.timestamp, 1000, "an echoed frame keeps its timestamp")
    }

    func testFramesLargerThanAPipeHoldsGoThroughWholeAndInOrder() async throws {
        let programs = try PythonPrograms()
        try programs.write("measure.py", """
            import json, sys
            for line in sys.stdin:
                frame = json.loads(line)
                frame["payload"] = {"count": frame["payload"]["count"], "length": len(frame["payload"]["data"])}
                print(json.dumps(frame), flush=True)
            """)
        var transform = makeTransform(programs.stageYAML("measure.py"))
        // Small and large frames in turn: a large one cannot go into the pipe at once,
        // so its rest is written as the program reads, and the next must wait for it.
        let lengths = [10, 300_000, 20, 1_000_000, 30, 70_000, 5]
        var output: [Frame] = []
        for (index, length) in lengths.enumerated() {
            let frame = Frame(type: "data", payload: ["count": .int(index), "data": .string(String(repeating: "d", count: length))])
            try await transform.process(frame, into: &output)
        }
        XCTAssertEqual(output.map { $0.payload["count"] }, lengths.indices.map { .int($0) })
        XCTAssertEqual(output.map { $0.payload["length"] }, lengths.map { .int($0) })
    }

    func testAProgramMayAnswerWithNoFrameOrSeveral() async throws {
        let programs = try PythonPrograms()
        try programs.write("split.py", """
            import json, sys
            for line in sys.stdin:
                frame = json.loads(line)
                n = frame["payload"]["count"]
                if n % 2:
                    print(json.dumps({"frames": []}), flush=True)
                else:
                    halves = [{"type": "half", "payload": {"of": n, "part": p}} for p in (1, 2)]
                    print(json.dumps({"sequence": frame["sequence"], "frames": halves}), flush=True)
            """)
        var transform = makeTransform(programs.stageYAML("split.py"))
        var output: [Frame] = []
        for count in 1...4 { try await transform.process(countFrame(count), into: &output) }
        XCTAssertEqual(output.map(\.type), ["half", "half", "half", "half"])
        XCTAssertEqual(output.map { $0.payload["of"] }, [2, 2, 4, 4])
        XCTAssertEqual(output.map { $0.payload["part"] }, [1, 2, 1, 2])
        XCTAssertEqual(output.map(\.timestamp), [1002, 1002, 1004, 1004], "a frame without a timestamp gets its input's")
        try await transform.finish(into: &output)
        XCTAssertEqual(output.count, 4)
    }

    func testWhatTheProgramHeldBackComesOutAtTheEnd() async throws {
        let programs = try PythonPrograms()
        try programs.write("total.py", """
            import json, sys
            total = 0
            for line in sys.stdin:
                total += json.loads(line)["payload"]["count"]
                print('{"frames": []}', flush=True)
            print(json.dumps({"type": "total", "essential": True, "payload": {"total": total}}), flush=True)
            """)
        let (end, recorder) = try await runPipeline(pipelineYAML(
            name: "totals", source: ["type: counter", "count: 10"],
            transforms: [["type: exec"] + programs.stageLines("total.py")]))
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(recorder.frames.map(\.type), ["total"])
        XCTAssertEqual(recorder.frames.first?.payload["total"], 55)
        XCTAssertEqual(recorder.frames.first?.delivery, .essential)
    }

    func testAProgramThatExitsMidStreamIsRestartedAndTheLossReported() async throws {
        let programs = try PythonPrograms()
        try programs.write("fragile.py", """
            import json, sys
            for line in sys.stdin:
                frame = json.loads(line)
                if frame["payload"]["count"] in (4, 7):
                    sys.exit(3)
                print(json.dumps(frame), flush=True)
            """)
        let recorder = LogRecorder()
        let (end, frames) = try await runPipeline(pipelineYAML(
            name: "fragile", source: ["type: counter", "count: 10"],
            transforms: [["type: exec"] + programs.stageLines("fragile.py", ["restart_backoff_ms: 10"])]
        ), logger: recorder.logger(level: .debug))
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(frames.frames.map { $0.payload["count"] }, [1, 2, 3, 5, 6, 8, 9, 10], "the frames the program died on are lost, the rest go on")
        let failures = recorder.entries(withEvent: "exec_failed")
        XCTAssertEqual(failures.count, 2)
        XCTAssertEqual(failures.map { $0.metadata["frames_lost"] }, ["1", "1"])
        XCTAssertEqual(failures.map { $0.metadata["frames_lost_total"] }, ["1", "2"])
        XCTAssertEqual(failures.map { $0.metadata["pipeline"] }, ["fragile", "fragile"])
        XCTAssertEqual(failures.first?.metadata["reason"], "exited with status 3 before answering frame 3")
        XCTAssertEqual(failures.first?.level, .warning)
        XCTAssertEqual(recorder.entries(withEvent: "exec_started").count, 3, "started once and restarted twice")
    }

    func testRestartNeverEndsTheStreamWithAnError() async throws {
        let programs = try PythonPrograms()
        try programs.write("fragile.py", """
            import json, sys, os
            for line in sys.stdin:
                frame = json.loads(line)
                if frame["payload"]["count"] == 3:
                    os.kill(os.getpid(), 9)
                print(json.dumps(frame), flush=True)
            """)
        let (end, frames) = try await runPipeline(pipelineYAML(
            name: "brittle", source: ["type: counter", "count: 10"],
            transforms: [["type: exec"] + programs.stageLines("fragile.py", ["restart: never"])]))
        XCTAssertEqual(frames.frames.map { $0.payload["count"] }, [1, 2])
        let message = try XCTUnwrap(end.failureMessage)
        XCTAssertTrue(message.contains("of pipeline 'brittle' was killed by signal 9 (SIGKILL) before answering frame 2, and restart is 'never'"), message)
        XCTAssertTrue(message.contains("1 frame lost"), message)
    }

    func testAFailingProgramLeavesOtherRunsAlone() async throws {
        let programs = try PythonPrograms()
        try programs.write("doubler.py", PythonPrograms.doubler)
        try programs.write("crash.py", "import sys\nsys.stdin.readline()\nsys.exit(1)\n")
        let healthy = pipelineYAML(
            name: "healthy", source: ["type: counter", "count: 300"],
            transforms: [["type: exec"] + programs.stageLines("doubler.py")])
        let broken = pipelineYAML(
            name: "broken", source: ["type: counter", "count: 300"],
            transforms: [["type: exec"] + programs.stageLines("crash.py", ["restart: never"])])
        async let healthyRun = runPipeline(healthy)
        async let brokenRun = runPipeline(broken)
        let (healthyEnd, healthyFrames) = try await healthyRun
        let (brokenEnd, _) = try await brokenRun
        XCTAssertTrue(brokenEnd.failureMessage?.contains("of pipeline 'broken' exited with status 1") ?? false, "\(brokenEnd)")
        XCTAssertEqual(healthyEnd, .complete)
        XCTAssertEqual(healthyFrames.frames.count, 300, "each run has its own program")
    }

    func testRestartsStopAtTheBudget() async throws {
        let programs = try PythonPrograms()
        try programs.write("crash.py", "import sys\nsys.stdin.readline()\nsys.exit(1)\n")
        var transform = makeTransform(programs.stageYAML("crash.py", "max_restarts: 2", "restart_backoff_ms: 1"))
        var output: [Frame] = []
        try await transform.process(countFrame(1), into: &output)
        try await transform.process(countFrame(2), into: &output)
        do {
            try await transform.process(countFrame(3), into: &output)
            XCTFail("a third failure within the window would need one restart more than max_restarts allows")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("exited with status 1 before answering frame 2, after 2 restarts; max_restarts allows 2 within restart_window_ms (60000 ms). 3 frames lost so far."), error.message)
        }
        XCTAssertEqual(output, [])
        XCTAssertEqual(transform.framesLost, 3)
        XCTAssertEqual(transform.restarts, 2)
    }

    func testAProgramThatNeverReadsTimesOutWithOneFrameHeld() async throws {
        let programs = try PythonPrograms()
        try programs.write("deaf.py", "import time\ntime.sleep(60)\n")
        var transform = makeTransform(programs.stageYAML("deaf.py", "startup_timeout_ms: 300", "max_restarts: 1", "restart_backoff_ms: 1"))
        // Larger than a pipe holds, so that the write itself cannot finish either.
        let big = Frame(type: "big", payload: ["data": .string(String(repeating: "x", count: 300_000))])
        var output: [Frame] = []
        let clock = ContinuousClock()
        let start = clock.now
        try await transform.process(big, into: &output)
        let first = clock.now - start
        XCTAssertGreaterThanOrEqual(first, .milliseconds(300), "process() holds the frame until the deadline: nothing else is accepted meanwhile")
        XCTAssertLessThan(first, .seconds(5))
        XCTAssertEqual(transform.framesLost, 1)
        do {
            try await transform.process(big, into: &output)
            XCTFail("the second miss is beyond the budget")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("did not answer frame 1 within startup_timeout_ms (300 ms)"), error.message)
        }
        XCTAssertEqual(output, [])
        XCTAssertNil(transform.programID, "the program was stopped")
    }

    func testTheFrameTimeoutAppliesAfterTheFirstAnswer() async throws {
        let programs = try PythonPrograms()
        try programs.write("slow.py", """
            import json, sys, time
            for line in sys.stdin:
                frame = json.loads(line)
                if frame["sequence"] == 1:
                    time.sleep(30)
                print(json.dumps(frame), flush=True)
            """)
        var transform = makeTransform(programs.stageYAML("slow.py", "frame_timeout_ms: 200", "restart: never"))
        var output: [Frame] = []
        try await transform.process(countFrame(1), into: &output)
        do {
            try await transform.process(countFrame(2), into: &output)
            XCTFail("the second frame takes longer than frame_timeout_ms")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("did not answer frame 1 within frame_timeout_ms (200 ms), and restart is 'never'"), error.message)
        }
        XCTAssertEqual(output.count, 1)
    }

    func testALineOverTheLimitIsAClearError() async throws {
        let programs = try PythonPrograms()
        try programs.write("chatty.py", """
            import sys
            sys.stdin.readline()
            print('{"type": "long", "payload": {"text": "' + "y" * 5000 + '"}}', flush=True)
            """)
        var transform = makeTransform(programs.stageYAML("chatty.py", "max_line_bytes: 1024"))
        var output: [Frame] = []
        do {
            try await transform.process(countFrame(1), into: &output)
            XCTFail("a line over max_line_bytes is refused")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("of pipeline 'exec_test' broke the exec protocol: line 1 of its output is longer than max_line_bytes (1024 bytes)"), error.message)
            XCTAssertTrue(error.message.contains("the line starts with '{\"type\": \"long\", \"payload\": {\"text\": \"yyyy"), error.message)
        }
        XCTAssertNil(transform.programID, "a program that broke the protocol is stopped, not restarted")
    }

    func testAMalformedLineNamesThePipelineTheLineAndItsStart() async throws {
        let programs = try PythonPrograms()
        try programs.write("talker.py", """
            import json, sys
            for line in sys.stdin:
                print(line.strip(), flush=True)
                print("loaded the model", flush=True)
            """)
        var transform = makeTransform(programs.stageYAML("talker.py"))
        var output: [Frame] = []
        try await transform.process(countFrame(1), into: &output)
        do {
            try await transform.process(countFrame(2), into: &output)
            XCTFail("a line that is not JSON is refused")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("of pipeline 'exec_test' broke the exec protocol: line 2 of its output is not JSON"), error.message)
            XCTAssertTrue(error.message.contains("the line starts with 'loaded the model'"), error.message)
        }
    }

    func testAnAnswerOutOfStepIsCaught() async throws {
        let programs = try PythonPrograms()
        try programs.write("twice.py", """
            import sys
            for line in sys.stdin:
                sys.stdout.write(line + line)
                sys.stdout.flush()
            """)
        var transform = makeTransform(programs.stageYAML("twice.py"))
        var output: [Frame] = []
        try await transform.process(countFrame(1), into: &output)
        do {
            try await transform.process(countFrame(2), into: &output)
            XCTFail("the second line answers frame 0 again")
        } catch let error as StageError {
            XCTAssertTrue(error.message.contains("line 2 of its output answers frame 0 when frame 1 was waiting; write exactly one line for each frame"), error.message)
        }
    }

    func testStandardErrorGoesToTheLogLineByLine() async throws {
        let programs = try PythonPrograms()
        try programs.write("noisy.py", """
            import json, sys
            print("warming up", file=sys.stderr)
            print("x" * 10000, file=sys.stderr)
            for line in sys.stdin:
                print(json.dumps(json.loads(line)), flush=True)
                for i in range(1000):
                    print("step", i, file=sys.stderr)
            """)
        let recorder = LogRecorder()
        let context = StageContext(pipeline: "noisy", instance: "test", logger: recorder.logger())
        var transform = makeTransform(programs.stageYAML("noisy.py"), context: context)
        var output: [Frame] = []
        try await transform.process(countFrame(1), into: &output)
        let pid = try XCTUnwrap(transform.programID)
        try await transform.finish(into: &output)
        let logged = await eventually(within: 5) { recorder.entries(withEvent: "exec_stderr_suppressed").count >= 1 }
        XCTAssertTrue(logged, "the lines beyond the rate are counted in a record of their own")
        let lines = recorder.entries(withEvent: "exec_stderr")
        XCTAssertEqual(lines.first?.message, "warming up")
        XCTAssertEqual(lines.first?.metadata["pipeline"], "noisy")
        XCTAssertEqual(lines.first?.metadata["pid"], "\(pid)")
        XCTAssertEqual(lines.dropFirst().first?.message, String(repeating: "x", count: 4096) + " … (cut at 4096 bytes)")
        XCTAssertLessThanOrEqual(lines.count, 110, "a burst is cut at the rate limit")
        let suppressed = recorder.entries(withEvent: "exec_stderr_suppressed").compactMap { Int($0.metadata["lines"] ?? "") }.reduce(0, +)
        XCTAssertEqual(lines.count + suppressed, 1002, "every line is either logged or counted")
    }

    func testCancellingTheRunStopsAndReapsTheProgram() async throws {
        let programs = try PythonPrograms()
        // Ignores SIGTERM and outlives its input and output, so that only SIGKILL after the grace period stops it.
        try programs.write("stubborn.py", """
            import json, os, signal, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print(os.getpid(), file=sys.stderr, flush=True)
            try:
                for line in sys.stdin:
                    print(json.dumps(json.loads(line)), flush=True)
            except BrokenPipeError:
                pass
            while True:
                time.sleep(1)
            """)
        // One program run first, so that what the first one sets up for good (the
        // event loop threads, Foundation's process monitor) is not counted as leaked.
        try programs.write("doubler.py", PythonPrograms.doubler)
        var warmUp = makeTransform(programs.stageYAML("doubler.py"))
        var output: [Frame] = []
        try await warmUp.process(countFrame(1), into: &output)
        try await warmUp.finish(into: &output)
        try await Task.sleep(for: .milliseconds(200))
        let descriptorsBefore = openDescriptorCount()
        let recorder = LogRecorder()
        let yaml = pipelineYAML(
            name: "endless", source: ["type: counter", "endless: true"],
            transforms: [["type: exec"] + programs.stageLines("stubborn.py")])
        let run = Task { try await runPipeline(yaml, logger: recorder.logger()) }
        let started = await eventually(within: 10) { recorder.entries(withEvent: "exec_stderr").count == 1 }
        XCTAssertTrue(started)
        let pid = try XCTUnwrap(recorder.entries(withEvent: "exec_stderr").first.flatMap { Int32($0.message) })
        XCTAssertTrue(processExists(pid))
        let clock = ContinuousClock()
        let cancelled = clock.now
        run.cancel()
        let (end, _) = try await run.value
        XCTAssertEqual(end, .cancelled)
        // The run may end while its transform waits for the program (which stops it
        // and waits), or between frames (then dropping the stage stops it).
        let gone = await eventually(within: 5) { !processExists(pid) }
        XCTAssertTrue(gone, "the program was killed and reaped")
        let waited = clock.now - cancelled
        XCTAssertGreaterThanOrEqual(waited, .milliseconds(1900), "SIGTERM was ignored, so SIGKILL came after the grace period")
        XCTAssertLessThan(waited, .seconds(4))
        if let descriptorsBefore {
            let closed = await eventually(within: 3) { openDescriptorCount() == descriptorsBefore }
            XCTAssertTrue(closed, "every pipe is closed: \(openDescriptorCount() ?? -1) descriptors open, \(descriptorsBefore) before")
        }
    }

    func testStoppingAsksWithSIGTERMFirst() async throws {
        let programs = try PythonPrograms()
        let waiting = programs.folder.url.appendingPathComponent("waiting").path
        let terminated = programs.folder.url.appendingPathComponent("terminated").path
        // Never answers the second frame, and leaves only when told to.
        try programs.write("polite.py", """
            import json, os, signal, sys, time
            def leave(signum, frame):
                open(\(String(reflecting: terminated)), "w").write("SIGTERM")
                os._exit(0)
            signal.signal(signal.SIGTERM, leave)
            for line in sys.stdin:
                frame = json.loads(line)
                if frame["sequence"] == 1:
                    open(\(String(reflecting: waiting)), "w").write("frame 1")
                    while True:
                        time.sleep(1)
                print(json.dumps(frame), flush=True)
            """)
        let yaml = programs.stageYAML("polite.py")
        let run = Task {
            var transform = makeTransform(yaml)
            var output: [Frame] = []
            try await transform.process(countFrame(1), into: &output)
            try await transform.process(countFrame(2), into: &output)
        }
        let started = await eventually(within: 10) { FileManager.default.fileExists(atPath: waiting) }
        XCTAssertTrue(started)
        let clock = ContinuousClock()
        let cancelled = clock.now
        run.cancel()
        do {
            try await run.value
            XCTFail("a cancelled run does not get its answer")
        } catch is CancellationError {}
        XCTAssertLessThan(clock.now - cancelled, .milliseconds(1500), "the program left on SIGTERM, before SIGKILL was due")
        XCTAssertEqual(try? String(contentsOfFile: terminated, encoding: .utf8), "SIGTERM", "the program got SIGTERM: it does not inherit the host's blocked signals")
    }

    func testDroppingTheStageStopsTheProgram() async throws {
        let programs = try PythonPrograms()
        try programs.write("doubler.py", PythonPrograms.doubler)
        var transform: ExecTransform? = makeTransform(programs.stageYAML("doubler.py"))
        var output: [Frame] = []
        try await transform?.process(countFrame(1), into: &output)
        let pid = try XCTUnwrap(transform?.programID)
        transform = nil
        let gone = await eventually(within: 5) { !processExists(pid) }
        XCTAssertTrue(gone, "a run that ends without finishing (a reload, a sink that stops) leaves no program behind")
    }

    func testTheProgramRunsWithItsSettings() async throws {
        let programs = try PythonPrograms()
        try programs.write("where.py", """
            import json, os, sys
            for line in sys.stdin:
                frame = json.loads(line)
                frame["payload"] = {"cwd": os.getcwd(), "greeting": os.environ.get("GREETING"), "args": sys.argv[1:]}
                print(json.dumps(frame), flush=True)
            """)
        let folder = programs.folder.url.resolvingSymlinksInPath().path
        var transform = makeTransform("""
            command: [python3, where.py, --window, "5"]
            working_directory: \(folder)
            env: {GREETING: hello}
            """)
        var output: [Frame] = []
        try await transform.process(countFrame(1), into: &output)
        XCTAssertEqual(output.first?.payload["cwd"]?.stringValue.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }, folder)
        XCTAssertEqual(output.first?.payload["greeting"], "hello")
        XCTAssertEqual(output.first?.payload["args"], ["--window", "5"])
    }
}
