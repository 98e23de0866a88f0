import ArgumentParser
import HyphaeCore

/// The `hyphae` command line, for a program of your own that adds its stage modules
/// to the built-in ones. Its `main.swift`:
///
/// ```swift
/// import HyphaeCommandLine
/// import MyStages
/// await HyphaeCommand.main(plugins: [MyStagesPlugin.self])
/// ```
///
/// Every command then knows those stage types: `serve`, `validate`, `tap`, `test`,
/// `graph` and `stages`.
public enum HyphaeCommand {
    /// Runs the command that the process's arguments name, with the built-in stage
    /// modules and `plugins`. Returns when the command succeeds; on a failure it prints
    /// why and exits the process (status 1, or 64 for a mistake in the command line).
    public static func main(plugins: [any StagePlugin.Type]) async {
        await InstalledPlugins.$current.withValue(InstalledPlugins(adding: plugins)) {
            await Hyphae.main()
        }
    }
}

struct Hyphae: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hyphae",
        abstract: "A stream host: runs the pipelines defined in YAML files and fans their frames out to WebSocket clients.",
        discussion: """
            Pipelines are YAML files in a folder (./pipelines by default). Each chains a source stage,
            transform stages and sink stages; `hyphae stages` lists the stage types this build knows.
            """,
        version: HyphaeVersion.current,
        subcommands: [Serve.self, Run.self, Validate.self, Tap.self, Test.self, Graph.self, Stages.self, Subscribe.self, Bench.self]
    )

    /// Parses the command line and runs the command it names. Errors take one of two
    /// paths, so that a refused connection never reads like a typo: a mistake in the
    /// command line prints the usage (exit status 64), and every other error is a
    /// failure at run time, printed as `error: ...` without the usage (exit status 1).
    static func main() async {
        let command: any ParsableCommand
        do {
            command = try await asyncParseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch where CommandFailure.isLeftToTheParser(error) {
            exit(withError: error)
        } catch {
            StandardError.write("error: \(error)")
            exit(withError: ExitCode.failure)
        }
    }
}

/// Benchmarks, run on a release build: `swift build -c release`, then `.build/release/hyphae bench ...`.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Hyphae on this machine.",
        subcommands: [BenchEngine.self, BenchRun.self, BenchCeiling.self]
    )
}
