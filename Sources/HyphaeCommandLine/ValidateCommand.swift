import ArgumentParser
import HyphaeCore

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check pipeline files without running them.",
        discussion: """
            Prints one line per valid pipeline and exits 0; otherwise prints every problem as
            file:line:column: error: ... and exits 1. Folders are read for *.yaml and *.yml files.
            """
    )

    @Argument(help: "Pipeline files or folders.")
    var paths: [String] = ["pipelines"]

    @Flag(name: .long, help: "Treat warnings as errors.")
    var strict = false

    func run() throws {
        let catalog = try loadCatalog(paths)
        printDiagnostics(catalog.diagnostics)
        for pipeline in catalog.pipelines {
            print("\(pipeline.file): ok: \(pipeline.summaryLine)")
        }
        let errors = catalog.diagnostics.filter(\.isError).count
        let warnings = catalog.diagnostics.count - errors
        if errors > 0 || (strict && warnings > 0) {
            StandardError.write("\(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s") in \(catalog.files.count) file\(catalog.files.count == 1 ? "" : "s")")
            throw ExitCode(1)
        }
    }
}
