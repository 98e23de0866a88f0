import ArgumentParser
import HyphaeCore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the pipelines to WebSocket clients.",
        discussion: "Loads and validates every pipeline in the folder before serving."
    )

    @Option(help: "The folder of pipeline files.")
    var pipelines = "pipelines"

    func run() async throws {
        let catalog = loadCatalog([pipelines])
        printDiagnostics(catalog.diagnostics)
        guard !catalog.hasErrors else { throw ExitCode(1) }
        for pipeline in catalog.pipelines {
            print("loaded \(pipeline.summaryLine)")
        }
        StandardError.write("hyphae serve: pipelines are valid; this build does not include the WebSocket host yet")
    }
}
