import ArgumentParser
import HyphaeCore

@main
struct Hyphae: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hyphae",
        abstract: "A stream host: runs the pipelines defined in YAML files and fans their frames out to WebSocket clients.",
        discussion: """
            Pipelines are YAML files in a folder (./pipelines by default). Each chains a source stage,
            transform stages and sink stages; `hyphae stages` lists the stage types this build knows.
            """,
        version: HyphaeVersion.current,
        subcommands: [Serve.self, Validate.self, Tap.self, Stages.self, Subscribe.self, Bench.self]
    )
}

/// Benchmarks, run on a release build: `swift build -c release`, then `.build/release/hyphae bench ...`.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Hyphae on this machine.",
        subcommands: [BenchEngine.self, BenchRun.self, BenchCeiling.self]
    )
}
