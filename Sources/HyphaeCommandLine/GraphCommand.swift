import ArgumentParser
import HyphaeCore

struct Graph: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a pipeline's stages and their resolved settings as a Mermaid or DOT graph.",
        discussion: """
            Each stage is a box with every setting it runs with: the file's values with params \
            resolved (their defaults, or --param values), and the defaults of the fields the file \
            leaves out. For docs and reviews: Mermaid renders in GitHub's Markdown; for DOT, \
            pipe it to `dot -Tsvg`.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case mermaid
        case dot
    }

    @Argument(help: "A pipeline name (from --pipelines) or the path of a pipeline file.")
    var pipeline: String

    @OptionGroup var params: ParamArguments

    @Option(help: "mermaid or dot.")
    var format: Format = .mermaid

    @Option(help: "The folder of pipeline files to find the pipeline in.")
    var pipelines = "pipelines"

    func run() throws {
        let definition = try findPipeline(pipeline, in: pipelines)
        let graph = PipelineGraph(definition, configuration: try definition.configured(with: params))
        let writer: any GraphWriter =
            switch format {
            case .mermaid: MermaidWriter()
            case .dot: DOTWriter()
            }
        print(writer.write(graph))
    }
}
