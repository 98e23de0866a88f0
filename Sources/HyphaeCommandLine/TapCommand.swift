import ArgumentParser
import Foundation
import HyphaeCore
import Logging

struct Tap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline without a server and print its frames as JSON lines.",
        discussion: """
            Frames are printed as the pipeline's sinks would receive them, one JSON object per line.
            Exits when the source finishes, or after --frames frames.
            """
    )

    @Argument(help: "A pipeline name (from --pipelines) or the path of a pipeline file.")
    var pipeline: String

    @OptionGroup var params: ParamArguments

    @Option(help: "Stop after this many frames.")
    var frames: Int?

    @Option(help: "The folder of pipeline files to find the pipeline in.")
    var pipelines = "pipelines"

    @Option(help: "A stream_id to write into each frame.")
    var streamID: String?

    func validate() throws {
        if let frames, frames < 1 { throw ValidationError("--frames must be at least 1") }
    }

    func run() async throws {
        let definition = try findPipeline(pipeline, in: pipelines)
        let configuration = try definition.configured(with: params)
        let context = StageContext(pipeline: definition.name, instance: "tap", logger: Logger(label: "hyphae.tap"))
        var run = try PipelineRun(configuration: configuration, context: context, sinks: [TapSink(limit: frames, streamID: streamID)])
        let end = await run.run()
        if case .failed(let message) = end {
            throw CommandFailure("the pipeline '\(definition.name)' failed: \(message)")
        }
    }
}

/// Prints each frame as a JSON line and ends the run after a given number.
private struct TapSink: FrameSink {
    private let limit: Int?
    private let streamID: String?
    private var printed = 0
    private var encoder = FrameEncoder()

    init(limit: Int?, streamID: String?) {
        self.limit = limit
        self.streamID = streamID
    }

    mutating func consume(_ frame: Frame) async throws {
        var line = encoder.encode(frame, streamID: streamID)
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardOutput.write(Data(line))
        printed += 1
        if let limit, printed >= limit { throw PipelineRun.StopRequested() }
    }
}
