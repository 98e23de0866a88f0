/// The cases of one pipeline test file (`ticker.test.yaml`) with the pipeline they test
/// (`ticker.yaml` beside it).
public struct PipelineTestSuite: Sendable {
    public var file: String
    public var pipeline: PipelineDefinition
    public var cases: [PipelineTestCase]

    public init(file: String, pipeline: PipelineDefinition, cases: [PipelineTestCase]) {
        self.file = file
        self.pipeline = pipeline
        self.cases = cases
    }
}

/// One named case: what goes into the pipeline and what must come out of it.
public struct PipelineTestCase: Sendable {
    /// Where the frames come from.
    public enum Input: Sendable {
        /// The pipeline's own source, stopped after this many frames (nil: when it
        /// finishes, for a finite source), as if it had finished there.
        case source(frames: Int?)
        /// These frames instead of the source, into the first transform.
        case frames([Frame])
    }

    public var name: String
    public var location: SourceLocation
    /// Every param the case sets, checked against the pipeline's declarations.
    public var params: JSONObject
    public var input: Input
    public var timeout: Duration
    public var expectation: OutputExpectation

    public init(name: String, location: SourceLocation, params: JSONObject, input: Input, timeout: Duration, expectation: OutputExpectation) {
        self.name = name
        self.location = location
        self.params = params
        self.input = input
        self.timeout = timeout
        self.expectation = expectation
    }
}

/// What a case expects of the frames that reach the sinks, and of how the run ends.
public struct OutputExpectation: Sendable {
    /// How many frames.
    public var count: Located<ValueMatcher>?
    /// The first frames, in order.
    public var frames: [FrameMatcher] = []
    /// Every frame.
    public var every: FrameMatcher?
    /// The last frame.
    public var last: FrameMatcher?
    /// The run must fail, with a message that contains this text.
    public var error: Located<String>?

    public init() {}
}

/// A value with the place in a test file it was read from.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var location: SourceLocation
    /// Its place in the file, e.g. `cases[2].expect.count`.
    public var field: String

    public init(_ value: Value, at location: SourceLocation, field: String) {
        self.value = value
        self.location = location
        self.field = field
    }
}
