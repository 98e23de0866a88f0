import Console
import HyphaeCore
import Logging
import Scale
import Ticker
import XCTest

/// The stage runs as it will in `my-hyphae`: in a pipeline file, behind the built-in
/// ticker, its frames taken where the sinks would take them.
final class ScaleTransformTests: XCTestCase {
    private let registry = StageRegistry(plugins: [ScalePlugin.self, TickerPlugin.self, ConsolePlugin.self])

    /// A ticker that counts to `count` as fast as it can, then `scale` with `settings`.
    private func pipeline(count: Int = 3, tickerSettings: String = "", _ settings: String) -> String {
        """
        name: scaled
        source:
          type: ticker
          rate: 0
          count: \(count)
        \(tickerSettings)
        transforms:
          - type: scale
        \(settings)
        sinks:
          - type: stdout
        """
    }

    private func load(_ yaml: String) -> PipelineFileResult {
        PipelineLoader(registry: registry, environment: [:]).load(text: yaml, file: "scaled.yaml")
    }

    private func run(_ yaml: String) async throws -> (frames: [Frame], end: StreamEnd) {
        let loaded = load(yaml)
        let definition = try XCTUnwrap(loaded.pipeline, loaded.diagnostics.map(\.description).joined(separator: "\n"))
        let configuration = try definition.configure(with: definition.defaultParams).get()
        let collected = CollectedFrames()
        let context = StageContext(pipeline: definition.name, instance: "test", logger: Logger(label: "scale-tests"))
        var run = try PipelineRun(configuration: configuration, context: context, sinks: [CollectingSink(into: collected)])
        let end = await run.run()
        return (collected.frames, end)
    }

    func testScalesTheFieldInPlace() async throws {
        let (frames, end) = try await run(pipeline("""
                field: count
                factor: 2.5
                offset: 1
            """))
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(frames.map { $0.payload["count"] }, [3.5, 6.0, 8.5])
    }

    func testWritesToAnotherFieldAndKeepsTheOriginal() async throws {
        let (frames, _) = try await run(pipeline("""
                field: count
                factor: -1
                output: negated
            """))
        XCTAssertEqual(frames.map { $0.payload["count"] }, [1, 2, 3])
        XCTAssertEqual(frames.map { $0.payload["negated"] }, [-1.0, -2.0, -3.0])
    }

    func testAFieldThatIsNotANumberStopsTheStreamSayingWhy() async throws {
        let (frames, end) = try await run(pipeline(tickerSettings: "  payload_bytes: 2", """
                field: data
                factor: 2
            """))
        XCTAssertEqual(frames, [])
        XCTAssertEqual(end, .failed("'data' is a string in a 'tick' frame, not a number; point 'field' at a numeric field"))
    }

    func testSettingsErrorsPointAtTheField() {
        let loaded = load(pipeline("""
                field: count..x
                factor: double
                output: ""
            """))
        XCTAssertNil(loaded.pipeline)
        XCTAssertEqual(loaded.diagnostics.map(\.description), [
            "scaled.yaml:9:12: error: transforms[0].field: expected a dotted path such as features.pot_mean_mV, found 'count..x'",
            "scaled.yaml:10:13: error: transforms[0].factor: expected a number, found 'double'",
            "scaled.yaml:11:13: error: transforms[0].output: expected a field name; leave 'output' out to replace the field itself",
        ])
        XCTAssertEqual(load(pipeline("    factor: 2")).diagnostics.map(\.summary), ["transforms[0].field: missing required field 'field'"])
    }
}

/// The frames a run delivered. The run and the test share one task, so a plain class does.
private final class CollectedFrames {
    var frames: [Frame] = []
}

private struct CollectingSink: FrameSink {
    let collected: CollectedFrames

    init(into collected: CollectedFrames) {
        self.collected = collected
    }

    mutating func consume(_ frame: Frame) async throws {
        collected.frames.append(frame)
    }
}
