import ArgumentParser
import Dispatch
import Foundation
import HyphaeCore
import Logging

/// `hyphae run`: a pipeline with its own sinks and no server, such as the producer of a
/// relay (a `redis` sink fed by a simulation; Docs/SCALING.md).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline with its own sinks, without a server, until it ends or a signal stops it.",
        discussion: """
            For pipelines whose sinks write somewhere else, such as the producer of a relay (a redis \
            sink). Each run has its own epoch. SIGINT or SIGTERM stops the run and lets its sinks \
            finish (a redis sink flushes what it holds, for up to 2 s). A websocket sink needs \
            `hyphae serve`. Exits with status 1 when a stage fails.
            """
    )

    @Argument(help: "A pipeline name (from --pipelines) or the path of a pipeline file.")
    var pipeline: String

    @OptionGroup var params: ParamArguments

    @Option(help: "The folder of pipeline files to find the pipeline in.")
    var pipelines = "pipelines"

    func run() async throws {
        let definition = try findPipeline(pipeline, in: pipelines)
        let configuration = try definition.configured(with: params)
        let logger = Logger(label: "hyphae.run")
        let board = DependencyBoard()
        var resources = StageResources()
        resources[DependencyBoard.self] = board
        let context = StageContext(pipeline: definition.name, instance: "run", logger: logger, resources: resources)
        let task = Task { () throws -> StreamEnd in
            var pipelineRun = try PipelineRun(configuration: configuration, context: context)
            return await pipelineRun.run()
        }
        let signals = [SIGINT, SIGTERM].map { number -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        FileHandle.standardError.write(Data("running \(definition.name); SIGINT or SIGTERM stops it\n".utf8))
        let end = try await task.value
        signals.forEach { $0.cancel() }
        for (key, entry) in board.snapshot() where !entry.counts.isEmpty {
            let counts = entry.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            FileHandle.standardError.write(Data("\(key.dependency): \(counts)\n".utf8))
        }
        if case .failed(let message) = end {
            throw CommandFailure("the pipeline '\(definition.name)' failed: \(message)")
        }
    }
}
