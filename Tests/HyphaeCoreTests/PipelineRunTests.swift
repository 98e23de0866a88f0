import HyphaeCore
import HyphaeTesting
import XCTest

final class PipelineRunTests: XCTestCase {
    /// The configuration of a pipeline with a counter source and the given stages.
    private func configuration(source: String = "", transforms: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> PipelineConfiguration {
        let transformsSection = transforms.isEmpty ? "" : "transforms:\n\(transforms)\n"
        let pipeline = try requirePipeline(loadPipeline(yaml: """
            name: demo
            source:
              type: counter
            \(source)
            \(transformsSection)sinks:
              - type: discard
            """), file: file, line: line)
        return try pipeline.configure(with: pipeline.defaultParams).get()
    }

    private func run(_ configuration: PipelineConfiguration, stopAfter: Int? = nil) async throws -> (StreamEnd, FrameRecorder) {
        let recorder = FrameRecorder()
        var run = try PipelineRun(configuration: configuration, context: testContext(), sinks: [RecordingSink(recorder: recorder, stopAfter: stopAfter)])
        let end = await run.run()
        return (end, recorder)
    }

    func testAFiniteSourceRunsToCompletion() async throws {
        let (end, recorder) = try await run(configuration(source: "  count: 4"))
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(recorder.frames.map { $0.payload["count"] }, [1, 2, 3, 4])
        XCTAssertEqual(recorder.frames.map(\.delivery), [.droppable, .droppable, .droppable, .essential])
        XCTAssertEqual(recorder.ends, [.complete], "each sink is told once how the stream ended")
    }

    func testSequencesAreNumberedFromZeroAtTheSinks() async throws {
        let (end, recorder) = try await run(configuration(source: "  count: 3", transforms: "  - type: shape\n    label: x\n    copies: 2"))
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(recorder.frames.map(\.sequence), [0, 1, 2, 3, 4, 5], "numbered after the transforms, once per frame a sink receives")
        XCTAssertEqual(recorder.frames.map { $0.payload["count"] }, [1, 1, 2, 2, 3, 3])
        XCTAssertEqual(recorder.frames.map { $0.payload["label"] }, Array(repeating: "x", count: 6))
    }

    func testTheSequenceCanBeCarriedOver() async throws {
        let recorder = FrameRecorder()
        var run = try PipelineRun(configuration: configuration(source: "  count: 2"), context: testContext(), sinks: [RecordingSink(recorder: recorder)])
        run.sequence = 100
        _ = await run.run()
        XCTAssertEqual(recorder.frames.map(\.sequence), [100, 101])
        XCTAssertEqual(run.sequence, 102)
    }

    /// A relayed frame (one with an epoch) keeps its producer's number; frames after it
    /// that the run makes itself are numbered on from there.
    func testARelayedFrameKeepsItsSequence() async throws {
        struct Relay: FrameSource {
            var frames: [Frame]
            mutating func next() async throws -> Frame? { frames.isEmpty ? nil : frames.removeFirst() }
        }
        let relayed = [
            Frame(type: "f", timestamp: 1, sequence: 40, epoch: "run-a"),
            Frame(type: "f", timestamp: 2, sequence: 43, epoch: "run-a"),
            Frame(type: "f", timestamp: 3),
            Frame(type: "f", timestamp: 4, sequence: 0, epoch: "run-b"),
        ]
        let recorder = FrameRecorder()
        var run = try PipelineRun(
            configuration: configuration(source: "  count: 1"), context: testContext(),
            source: Relay(frames: relayed), sinks: [RecordingSink(recorder: recorder)])
        _ = await run.run()
        XCTAssertEqual(recorder.frames.map(\.sequence), [40, 43, 44, 0])
        XCTAssertEqual(recorder.frames.map(\.timestamp), [1, 2, 3, 4])
        XCTAssertEqual(recorder.frames.map(\.epoch), ["run-a", "run-a", nil, "run-b"])
        XCTAssertEqual(run.sequence, 1)
    }

    func testTransformsAreFlushedInOrderAtTheEnd() async throws {
        let (end, recorder) = try await run(configuration(source: "  count: 3", transforms: "  - type: hold\n  - type: shape\n    label: after"))
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(recorder.frames.map { $0.payload["count"] }, [1, 2, 3], "held frames pass through the later transforms")
        XCTAssertEqual(recorder.frames.map { $0.payload["label"] }, ["after", "after", "after"])
        XCTAssertEqual(recorder.frames.map(\.sequence), [0, 1, 2])
    }

    func testAThrowingSourceFailsTheRun() async throws {
        let (end, recorder) = try await run(configuration(source: "  count: 5\n  fail_after: 2"))
        XCTAssertEqual(end, .failed(CounterSource.failureMessage))
        XCTAssertEqual(recorder.frames.count, 2)
        XCTAssertEqual(recorder.ends, [.failed(CounterSource.failureMessage)])
    }

    func testAFailedRunDoesNotFlushItsTransforms() async throws {
        let (end, recorder) = try await run(configuration(source: "  count: 5\n  fail_after: 2", transforms: "  - type: hold"))
        XCTAssertEqual(end, .failed(CounterSource.failureMessage))
        XCTAssertEqual(recorder.frames.count, 0)
    }

    func testASinkCanStopTheRun() async throws {
        let (end, recorder) = try await run(configuration(source: "  endless: true"), stopAfter: 3)
        XCTAssertEqual(end, .cancelled)
        XCTAssertEqual(recorder.frames.map(\.sequence), [0, 1, 2])
        XCTAssertEqual(recorder.ends, [.cancelled])
    }

    func testCancellingTheTaskEndsTheRun() async throws {
        let configuration = try configuration(source: "  endless: true")
        let recorder = FrameRecorder()
        let task = Task {
            var run = try PipelineRun(configuration: configuration, context: testContext(), sinks: [RecordingSink(recorder: recorder)])
            return await run.run()
        }
        // Wait until frames flow, however long that takes on a loaded machine.
        while recorder.frames.count < 10 {
            try await Task.sleep(for: .milliseconds(1))
        }
        task.cancel()
        let end = try await task.value
        XCTAssertEqual(end, .cancelled)
        XCTAssertEqual(recorder.ends, [.cancelled])
        XCTAssertGreaterThanOrEqual(recorder.frames.count, 10)
    }

    func testTheRegisteredSinksAreMadeWhenNoneAreGiven() async throws {
        var run = try PipelineRun(configuration: configuration(source: "  count: 2"), context: testContext())
        let end = await run.run()
        XCTAssertEqual(end, .complete)
        XCTAssertEqual(run.sequence, 2, "two frames reached the discard sink")
    }
}
