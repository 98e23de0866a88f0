import ArgumentParser
import HyphaeCore

/// The pipeline a command names (`tap`, `graph`): a name from the `folder` of
/// pipeline files, or the path of a file. An invalid file is reported with its
/// problems (exit status 1); a name that is nowhere, as a mistake in the command line.
func findPipeline(_ argument: String, in folder: String) throws -> PipelineDefinition {
    let isFile = PipelineCatalog.isPipelineFile(named: argument) || argument.contains("/")
    let catalog = try loadCatalog([isFile ? argument : folder])
    if isFile {
        guard let definition = catalog.pipelines.first else {
            printDiagnostics(catalog.diagnostics)
            throw ExitCode(1)
        }
        return definition
    }
    if let definition = catalog[argument] { return definition }
    if let failed = catalog.files.first(where: { $0.pipeline == nil && $0.file.hasSuffix("/\(argument).yaml") }) {
        printDiagnostics(failed.diagnostics)
        throw ExitCode(1)
    }
    let names = catalog.pipelines.map(\.name)
    throw ValidationError("no pipeline named '\(argument)' in \(folder)\(Suggestions.didYouMean(argument, in: names)) (found: \(names.joined(separator: ", ")))")
}

extension PipelineDefinition {
    /// Every stage configured with `--param` values over the defaults; a value that
    /// makes a stage invalid is a mistake in the command line.
    func configured(with params: ParamArguments) throws -> PipelineConfiguration {
        let given = try params.values(declaredBy: self)
        switch resolveParams(given).flatMap({ configure(with: $0) }) {
        case .success(let configured): return configured
        case .failure(let error): throw ValidationError(error.description)
        }
    }
}
