import ArgumentParser
import Foundation
import HyphaeCore
import HyphaeHost

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to standard error, where diagnostics go, so that standard output stays
/// clean for frames and summaries.
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

extension PipelineDefinition {
    /// The one line `hyphae validate` prints for a valid pipeline.
    var summaryLine: String {
        let stages = ([source] + transforms).map(\.type) + sinks.map { sink in
            (sink.defaultConfiguration as? any EndpointConfiguration).map { "\(sink.type) \($0.endpointPath)" } ?? sink.type
        }
        let paramNames = params.isEmpty ? "no params" : "params: " + params.map(\.name).joined(separator: ", ")
        let mode = sharesInstances ? "shared instances" : "a run per subscriber"
        return "\(name): \(stages.joined(separator: " -> ")) (\(paramNames); \(isFinite ? "finite" : "endless"), \(mode); version \(version))"
    }
}

/// Loads a catalog of pipeline files with every installed stage type.
func loadCatalog(_ paths: [String]) throws(CommandFailure) -> PipelineCatalog {
    let registry = try InstalledPlugins.current.registry()
    return PipelineCatalog.load(paths: paths, loader: PipelineLoader(registry: registry))
}

func printDiagnostics(_ diagnostics: [Diagnostic]) {
    for diagnostic in diagnostics { StandardError.write(diagnostic.description) }
}

/// A failure at run time, not a mistake in the command line: a refused connection,
/// a failed authentication, a host that said no. `hyphae` prints it as `error: ...`
/// without the usage text and exits with status 1 (see `Hyphae.main`). The text says
/// what went wrong and what to do about it.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }

    /// Whether ArgumentParser reports `error` itself: a mistake in the command line
    /// (with the usage, exit status 64), a request for help, or an exit status that a
    /// command chose after printing its own diagnostics. Everything else would reach
    /// ArgumentParser as an error it does not know, which it reports as a bare failure
    /// (exit status 1): those are the failures at run time.
    static func isLeftToTheParser(_ error: any Error) -> Bool {
        error is ExitCode || Hyphae.exitCode(for: error) != .failure
    }
}
