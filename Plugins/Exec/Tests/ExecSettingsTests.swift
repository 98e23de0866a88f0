import Exec
import Foundation
import HyphaeCore
import HyphaeTesting
import XCTest

/// Reading the exec stages' settings, where mistakes are caught when the file loads.
final class ExecSettingsTests: XCTestCase {
    private func problems(_ stage: [String], source: [String] = ["type: counter"], params: String? = nil) -> [String] {
        var yaml = pipelineYAML(name: "p", source: source, transforms: [stage])
        if let params { yaml = "params:\n  \(params)\n" + yaml }
        return loadPipeline(yaml: yaml, environment: ["HOME": "/root"], registry: execRegistry()).diagnostics.map(\.description)
    }

    func testAMissingProgramIsAnErrorAtLoadNamingTheField() {
        let found = problems(["type: exec", "command: [pyton3, smooth.py]"])
        XCTAssertEqual(found.count, 1)
        let problem = found.first ?? ""
        XCTAssertTrue(problem.hasPrefix("test.yaml:6:14: error: transforms[0].command: no program 'pyton3' on PATH ("), problem)
        XCTAssertTrue(problem.hasSuffix("); install it, correct the name, or give its path"), problem)

        let source = loadPipeline(yaml: pipelineYAML(name: "s", source: ["type: exec_source", "command: [no-such-program-here]"]), registry: execRegistry())
        XCTAssertEqual(source.diagnostics.map(\.field), ["source.command"])
    }

    func testTheOtherMistakesAreReportedWithTheirFields() {
        XCTAssertEqual(problems(["type: exec"]).map { $0.components(separatedBy: "error: ").last }, ["transforms[0].command: missing required field 'command' (the program and its arguments, e.g. [python3, smooth.py])"])
        XCTAssertEqual(problems(["type: exec", "command: []"]).map { $0.components(separatedBy: "error: ").last }, [
            "transforms[0].command: expected the program and its arguments, e.g. [python3, smooth.py], found an empty list"
        ])
        XCTAssertEqual(problems(["type: exec", "command: [python3, \"${env:HOME}\", \"${n}\"]"], params: "n: {type: int, default: 1}").map { $0.components(separatedBy: "error: ").last }, [
            "transforms[0].command: expected a list of strings, found 1 (param 'n') in it"
        ], "a param alone keeps its type; a number goes into text, as in --n=${n}")
        XCTAssertEqual(problems(["type: exec", "command: python3 smooth.py"]).map { $0.components(separatedBy: "error: ").last }, [
            "transforms[0].command: expected a list of strings, found 'python3 smooth.py'"
        ])
        let settings = problems([
            "type: exec", "command: [python3]", "working_directory: /no/such/folder", "env: {A: ~, B=C: x}",
            "restart: sometimes", "frame_timeout_ms: 0", "max_line_bytes: 10",
        ]).map { $0.components(separatedBy: "error: ").last ?? "" }
        XCTAssertEqual(settings, [
            "transforms[0].working_directory: no folder '/no/such/folder'; relative paths start from the pipeline file's folder, '\(FileManager.default.currentDirectoryPath)'",
            "transforms[0].env: 'B=C' cannot be an environment variable's name; use letters, digits and '_'",
            "transforms[0].env.A: expected text, found nothing; write \"\" for an empty value",
            "transforms[0].restart: expected one of 'never', 'on_failure', 'always', found 'sometimes'",
            "transforms[0].frame_timeout_ms: expected an integer from 1 to 86400000, found '0'",
            "transforms[0].max_line_bytes: expected an integer from 64 to 268435456, found '10'",
        ])
    }

    func testParamsReachTheCommandAndTheEnvironment() throws {
        let programs = try PythonPrograms()
        let yaml = """
            name: p
            params:
              window: { type: int, default: 5 }
            source:
              type: counter
            transforms:
              - type: exec
                command: [python3, smooth.py, "--window=${window}"]
                working_directory: \(programs.folder.url.path)
                env: {WINDOW: "${window}", LABEL: "w-${window}"}
            sinks:
              - type: discard
            """
        let pipeline = try XCTUnwrap(loadPipeline(yaml: yaml, registry: execRegistry()).pipeline)
        let given = try pipeline.resolveParams(["window": 9]).get()
        let configuration = try pipeline.configure(with: given).get()
        let exec = try XCTUnwrap(configuration.transforms.first?.configuration as? ExecTransform.Configuration)
        XCTAssertEqual(exec.settings.command, ["python3", "smooth.py", "--window=9"])
        XCTAssertEqual(exec.settings.environment.map(\.key), ["WINDOW", "LABEL"])
        XCTAssertEqual(exec.settings.environment.map(\.value), ["9", "w-9"])
        XCTAssertEqual(exec.settings.executable, executableOnPath("python3")?.standardizedFileURL.path)
    }

    func testRelativePathsStartFromThePipelineFilesFolder() async throws {
        let programs = try PythonPrograms()
        let stages = programs.folder.url.appendingPathComponent("stages")
        try FileManager.default.createDirectory(at: stages, withIntermediateDirectories: true)
        try programs.write("stages/upper.py", """
            #!/usr/bin/env python3
            import json, sys
            for line in sys.stdin:
                frame = json.loads(line)
                frame["type"] = frame["type"].upper()
                print(json.dumps(frame), flush=True)
            """)
        let pipelineFile = try programs.write("upper.yaml", pipelineYAML(
            name: "upper", source: ["type: counter", "count: 2"],
            transforms: [["type: exec", "command: [./stages/upper.py]"], ["type: exec", "command: [python3, stages/upper.py]"]]))
        let loader = PipelineLoader(registry: execRegistry(), environment: [:])

        let notExecutable = loader.load(file: pipelineFile)
        XCTAssertEqual(notExecutable.diagnostics.map(\.summary), [
            "transforms[0].command: no program at '\(stages.path)/upper.py'; check the path (relative paths start from the working directory, '\(programs.folder.url.path)') and that the file is executable"
        ], "the script is not executable yet; python3 can still run it")

        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stages.appendingPathComponent("upper.py").path)
        let pipeline = try XCTUnwrap(loader.load(file: pipelineFile).pipeline)
        let recorder = FrameRecorder()
        var run = try PipelineRun(configuration: pipeline.configure(with: pipeline.defaultParams).get(), context: testContext(), sinks: [RecordingSink(recorder: recorder)])
        let end = await run.run()
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(recorder.frames.map(\.type), ["COUNT", "COUNT"])
    }

    func testTheFieldsAreListedForHyphaeStages() throws {
        let registry = execRegistry()
        let transform = try XCTUnwrap(registry["exec"])
        let source = try XCTUnwrap(registry["exec_source"])
        XCTAssertEqual(transform.kind, .transform)
        XCTAssertEqual(source.kind, .source)
        let shared = ["command", "working_directory", "env", "restart", "max_restarts", "restart_window_ms", "restart_backoff_ms", "startup_timeout_ms", "frame_timeout_ms", "max_line_bytes"]
        XCTAssertEqual(transform.fields.map(\.name), shared)
        XCTAssertEqual(source.fields.map(\.name), shared + ["finite"])
        XCTAssertEqual(transform.fields.first { $0.name == "frame_timeout_ms" }?.defaultValue, .int(5000))
        XCTAssertNil(source.fields.first { $0.name == "frame_timeout_ms" }?.defaultValue)
        XCTAssertEqual(transform.fields.first { $0.name == "restart" }?.defaultValue, .string("on_failure"))
    }
}
