import Exec
import Foundation
import HyphaeCore
import HyphaeTesting
import Logging
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Python programs written to a temporary folder, and the stages that run them.
/// The tests need `python3` and nothing else; a test that needs NumPy says so.
final class PythonPrograms {
    let folder: TemporaryFolder
    let python: String

    init() throws {
        guard let python = executableOnPath("python3") else {
            throw XCTSkip("python3 is not on PATH; these tests run real Python programs")
        }
        self.python = python.path
        folder = try TemporaryFolder()
    }

    /// Writes `source` as `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ source: String) throws -> String {
        try folder.write(name, source)
    }

    /// The lines of an exec stage's mapping (without `type:`) that runs `name` with python3, plus `extra` lines.
    func stageLines(_ name: String, _ extra: [String] = []) -> [String] {
        ["command: [\(python), -u, \(folder.url.appendingPathComponent(name).path)]"] + extra
    }

    /// The same mapping as YAML text, for `readConfiguration`.
    func stageYAML(_ name: String, _ extra: String...) -> String {
        stageLines(name, extra).joined(separator: "\n")
    }

    /// A pass-through that adds `doubled` (twice `count`) to each frame's payload.
    static let doubler = """
        import json, sys
        for line in sys.stdin:
            frame = json.loads(line)
            frame["payload"]["doubled"] = frame["payload"]["count"] * 2
            print(json.dumps(frame), flush=True)
        """
}

/// A transform or source made from its YAML mapping, with its problems checked.
func makeTransform(_ yaml: String, context: StageContext = testContext(pipeline: "exec_test"), file: StaticString = #filePath, line: UInt = #line) -> ExecTransform {
    let (configuration, diagnostics) = readConfiguration(ExecTransform.Configuration.self, yaml: yaml, stageType: "exec")
    XCTAssertEqual(diagnostics.map(\.summary), [], file: file, line: line)
    return ExecTransform(configuration: configuration, context: context)
}

func makeSource(_ yaml: String, context: StageContext = testContext(pipeline: "exec_test"), file: StaticString = #filePath, line: UInt = #line) -> ExecSource {
    let (configuration, diagnostics) = readConfiguration(ExecSource.Configuration.self, yaml: yaml, stageType: "exec_source")
    XCTAssertEqual(diagnostics.map(\.summary), [], file: file, line: line)
    return ExecSource(configuration: configuration, context: context)
}

func countFrame(_ count: Int, essential: Bool = false) -> Frame {
    Frame(type: "count", timestamp: 1000 + Double(count), payload: ["count": .int(count)], delivery: essential ? .essential : .droppable)
}

/// The registry of the tests' own stages plus the exec stages.
func execRegistry() -> StageRegistry {
    StageRegistry(plugins: [TestStagesPlugin.self, ExecPlugin.self])
}

/// A pipeline file: a source and transforms given as the lines of their mappings, `type:` first.
func pipelineYAML(name: String, source: [String], transforms: [[String]] = []) -> String {
    func item(_ lines: [String]) -> [String] {
        lines.enumerated().map { $0.offset == 0 ? "  - " + $0.element : "    " + $0.element }
    }
    var lines = ["name: \(name)", "source:"] + source.map { "  " + $0 }
    if !transforms.isEmpty {
        lines.append("transforms:")
        for stage in transforms { lines += item(stage) }
    }
    lines += ["sinks:", "  - type: discard"]
    return lines.joined(separator: "\n")
}

/// Runs a pipeline file's text to its end with a recording sink.
func runPipeline(_ yaml: String, logger: Logger? = nil, stopAfter: Int? = nil, file: StaticString = #filePath, line: UInt = #line) async throws -> (StreamEnd, FrameRecorder) {
    let result = loadPipeline(yaml: yaml, registry: execRegistry())
    XCTAssertEqual(result.diagnostics.map(\.summary), [], file: file, line: line)
    let pipeline = try XCTUnwrap(result.pipeline, file: file, line: line)
    let configuration = try pipeline.configure(with: pipeline.defaultParams).get()
    let recorder = FrameRecorder()
    let context = StageContext(pipeline: pipeline.name, instance: "test", logger: logger ?? Logger(label: "hyphae.test"))
    var run = try PipelineRun(configuration: configuration, context: context, sinks: [RecordingSink(recorder: recorder, stopAfter: stopAfter)])
    let end = await run.run()
    return (end, recorder)
}

/// Whether a process id still names a process, a zombie included (a zombie is one
/// that nobody reaped).
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno != ESRCH
}

/// Polls until `condition` holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// The number of file descriptors this process has open, on systems that can say.
func openDescriptorCount() -> Int? {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count
}

extension StreamEnd {
    var failureMessage: String? {
        if case .failed(let message) = self { return message }
        return nil
    }
}
