import Logging
import Synchronization

/// Runs pipeline test cases without a server: the pipeline's own transforms, fed by
/// its source or by the case's frames, with the sinks replaced by a collector, and
/// the collected frames held against what the case expects.
public struct PipelineTestRunner: Sendable {
    public var logger: Logger

    public init(logger: Logger = Logger(label: "hyphae.test")) {
        self.logger = logger
    }

    public func run(_ testCase: PipelineTestCase, of pipeline: PipelineDefinition) async -> PipelineTestResult {
        let configuration: PipelineConfiguration
        switch pipeline.resolveParams(testCase.params).flatMap({ pipeline.configure(with: $0) }) {
        case .success(let configured):
            configuration = configured
        case .failure(let problem):
            return PipelineTestResult(name: testCase.name, failures: [
                PipelineTestFailure(at: testCase.location, field: nil, "the case's params give no valid pipeline: \(problem)")
            ])
        }
        let context = StageContext(pipeline: pipeline.name, instance: "test \(testCase.name)", logger: logger)
        let (frames, ending) = await Self.execute(configuration, input: testCase.input, context: context, timeout: testCase.timeout)
        let failures = OutputCheck(expectation: testCase.expectation, caseLocation: testCase.location, frames: frames)
            .failures(ending: ending, timeout: testCase.timeout)
        return PipelineTestResult(name: testCase.name, failures: failures)
    }

    /// How a case's run ended.
    enum Ending: Sendable, Equatable {
        case complete
        case failed(String)
        case timedOut
    }

    private static func execute(
        _ configuration: PipelineConfiguration, input: PipelineTestCase.Input, context: StageContext, timeout: Duration
    ) async -> ([Frame], Ending) {
        let collected = CollectedFrames()
        let ending = await withTaskGroup(of: Ending?.self) { group in
            group.addTask {
                do {
                    let source: (any FrameSource)?
                    switch input {
                    case .frames(let frames): source = ReplayedFrames(frames)
                    case .source(let limit?): source = FirstFrames(of: try configuration.source.makeSource(context: context), limit: limit)
                    case .source(nil): source = nil
                    }
                    var run = try PipelineRun(configuration: configuration, context: context, source: source, sinks: [CollectingSink(into: collected)])
                    switch await run.run() {
                    case .complete: return .complete
                    case .failed(let message): return .failed(message)
                    case .cancelled: return .timedOut
                    }
                } catch {
                    // A stage that cannot be made fails the stream before it starts, as in the host.
                    return .failed(String(describing: error))
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                } catch {
                    return nil
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .timedOut
        }
        return (collected.frames, ending)
    }
}

/// What came of one case: passed when nothing failed.
public struct PipelineTestResult: Sendable {
    public var name: String
    public var failures: [PipelineTestFailure]

    public var passed: Bool { failures.isEmpty }
}

/// One expectation a case's run did not meet, with what shows how.
public struct PipelineTestFailure: Sendable, Equatable, CustomStringConvertible {
    /// Where the test file states the expectation.
    public var location: SourceLocation
    /// Its path in the test file, e.g. `cases[0].expect.frames[1]`.
    public var field: String?
    public var message: String
    /// A diff of a frame against its check, or the frames the run gave.
    public var details: [String]

    public init(at location: SourceLocation, field: String?, _ message: String, details: [String] = []) {
        self.location = location
        self.field = field
        self.message = message
        self.details = details
    }

    /// `pipelines/ticker.test.yaml:12:11: cases[0].expect.count: expected 3 frames, got 2`.
    public var description: String {
        "\(location): " + (field.map { "\($0): " } ?? "") + message
    }
}

/// Holds the frames of a run against a case's expectation.
private struct OutputCheck {
    let expectation: OutputExpectation
    let caseLocation: SourceLocation
    let frames: [Frame]

    /// Shown with a failure about the frames as a whole; a longer run is cut short.
    static let framesShown = 10

    func failures(ending: PipelineTestRunner.Ending, timeout: Duration) -> [PipelineTestFailure] {
        switch ending {
        case .timedOut:
            let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
            return [PipelineTestFailure(
                at: caseLocation, field: nil,
                "the case did not finish within \(milliseconds) ms (\(frames.count) frame\(frames.count == 1 ? "" : "s") so far); run fewer source_frames, raise the source's rate with params, or set timeout_ms",
                details: framesListing)]
        case .failed(let message):
            guard let expected = expectation.error else {
                return [PipelineTestFailure(at: caseLocation, field: nil, "the pipeline failed: \(message)", details: framesListing)]
            }
            guard message.contains(expected.value) else {
                return [PipelineTestFailure(
                    at: expected.location, field: expected.field,
                    "expected the run to fail with a message containing '\(expected.value)'; it failed with: \(message)")]
            }
        case .complete:
            if let expected = expectation.error {
                return [PipelineTestFailure(
                    at: expected.location, field: expected.field,
                    "expected the run to fail with a message containing '\(expected.value)'; it completed with \(frames.count) frame\(frames.count == 1 ? "" : "s")",
                    details: framesListing)]
            }
        }
        var failures: [PipelineTestFailure] = []
        if let count = expectation.count, !count.value.matches(.int(frames.count)) {
            failures.append(PipelineTestFailure(
                at: count.location, field: count.field, "expected \(count.value.expectationText) frames, got \(frames.count)", details: framesListing))
        }
        for (index, matcher) in expectation.frames.enumerated() {
            guard frames.indices.contains(index) else {
                failures.append(PipelineTestFailure(
                    at: matcher.location, field: matcher.field,
                    "expected a frame \(index) here; the run gave \(frames.count) frame\(frames.count == 1 ? "" : "s")", details: framesListing))
                continue
            }
            if let failure = mismatch(of: index, against: matcher, saying: "frame \(index) does not match") { failures.append(failure) }
        }
        if let every = expectation.every {
            let checked = frames.indices.filter { every.applies(to: frames[$0]) }
            let failing = checked.filter { !every.compare(frames[$0]).matches }
            let kind = every.onlyType.map { "\($0) frames" } ?? "frames"
            if checked.isEmpty {
                failures.append(PipelineTestFailure(at: every.location, field: every.field, "the run gave no \(kind) to check", details: framesListing))
            } else if let first = failing.first,
                let failure = mismatch(of: first, against: every, saying: "\(failing.count) of \(checked.count) \(kind) do not match; the first is frame \(first)")
            {
                failures.append(failure)
            }
        }
        if let last = expectation.last {
            if frames.isEmpty {
                failures.append(PipelineTestFailure(at: last.location, field: last.field, "the run gave no frames, so there is no last one"))
            } else if let failure = mismatch(of: frames.count - 1, against: last, saying: "the last frame (frame \(frames.count - 1)) does not match") {
                failures.append(failure)
            }
        }
        return failures
    }

    /// The frame against its check as a diff, then the frame itself; nil when it matches.
    private func mismatch(of index: Int, against matcher: FrameMatcher, saying message: String) -> PipelineTestFailure? {
        let comparison = matcher.compare(frames[index])
        guard !comparison.matches else { return nil }
        return PipelineTestFailure(
            at: matcher.location, field: matcher.field, message,
            details: comparison.diffLines + ["actual frame \(index): \(frames[index].testDescription)"])
    }

    private var framesListing: [String] {
        var lines = frames.prefix(Self.framesShown).enumerated().map { "frame \($0.offset): \($0.element.testDescription)" }
        if frames.count > Self.framesShown { lines.append("… and \(frames.count - Self.framesShown) more") }
        return lines
    }
}

extension Frame {
    /// One line for a test report: type, sequence, essential and payload, as JSON, cut short.
    var testDescription: String {
        var object = JSONObject(minimumCapacity: 4)
        object.append("type", .string(type))
        object.append("sequence", .int(sequence))
        if isEssential { object.append("essential", .bool(true)) }
        object.append("payload", .object(payload))
        return ValueMatcher.abbreviated(JSONValue.object(object).jsonText, limit: 400)
    }
}

/// Stands in for the source: the case's frames, then the end of the stream.
private struct ReplayedFrames: FrameSource {
    private var frames: IndexingIterator<[Frame]>

    init(_ frames: [Frame]) {
        self.frames = frames.makeIterator()
    }

    mutating func next() async throws -> Frame? {
        frames.next()
    }
}

/// The pipeline's source, ended after a number of frames as if it had finished there,
/// so that the transforms let go of what they hold.
private struct FirstFrames: FrameSource {
    private var source: any SourceStage
    private let limit: Int
    private var taken = 0

    init(of source: any SourceStage, limit: Int) {
        self.source = source
        self.limit = limit
    }

    mutating func next() async throws -> Frame? {
        guard taken < limit else { return nil }
        taken += 1
        return try await source.next()
    }
}

/// The frames a run delivered. The run lives in a child task and the check reads
/// them after it, so they are behind a lock.
private final class CollectedFrames: Sendable {
    private let collected = Mutex<[Frame]>([])

    func append(_ frame: Frame) {
        collected.withLock { $0.append(frame) }
    }

    var frames: [Frame] {
        collected.withLock { $0 }
    }
}

private struct CollectingSink: FrameSink {
    let collected: CollectedFrames

    init(into collected: CollectedFrames) {
        self.collected = collected
    }

    mutating func consume(_ frame: Frame) async throws {
        collected.append(frame)
    }
}
