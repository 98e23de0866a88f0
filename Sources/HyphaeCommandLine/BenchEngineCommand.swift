import ArgumentParser
import Foundation
import HyphaeCore
import MFN
import MFNBenchmark

struct BenchEngine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Time the MFN reaction-diffusion engine, optionally against its NumPy reference.",
        discussion: """
            For each grid size: the median over --repetitions runs of --iterations steps (after a
            warm-up run) of one step, and of one step plus the nine features. Prints a table, then one
            JSON line. Build with `swift build -c release` and run .build/release/hyphae: a debug
            build is many times slower. --numpy times Tests/reference/mfn_reference.py in the same run
            (it reports the fastest of its three runs, so the ratio is a conservative one).
            --count-allocations counts heap allocations per step with glibc's allocation trace.
            """
    )

    @Option(help: "Comma-separated grid sides.")
    var gridSizes = "64,128,256"

    @Option(help: "Steps per timed run.")
    var iterations = 1000

    @Option(help: "Timed runs per measurement; the median is reported.")
    var repetitions = 7

    @Flag(help: "Also time the NumPy reference (needs python3 with numpy) and print the speed ratio.")
    var numpy = false

    @Option(help: "Steps per NumPy run (it is much slower).")
    var numpySteps = 200

    @Option(help: "The NumPy reference script.")
    var reference = "Tests/reference/mfn_reference.py"

    @Flag(help: "Count heap allocations made by the steps (glibc's libc_malloc_debug).")
    var countAllocations = false

    /// Set in the child that `--count-allocations` starts: run one traced probe and exit.
    @Option(help: .hidden)
    var allocationProbe: String?

    func validate() throws {
        guard !parsedGridSizes.isEmpty, parsedGridSizes.allSatisfy({ (8...2048).contains($0) }) else {
            throw ValidationError("--grid-sizes takes comma-separated sides from 8 to 2048, found '\(gridSizes)'")
        }
        if iterations < 1 || repetitions < 1 || numpySteps < 1 {
            throw ValidationError("--iterations, --repetitions and --numpy-steps must be at least 1")
        }
    }

    private var parsedGridSizes: [Int] {
        let parts = gridSizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return parts.contains(nil) ? [] : parts.compactMap { $0 }
    }

    func run() async throws {
        if let allocationProbe {
            guard let probe = AllocationCount.Probe(rawValue: allocationProbe), let side = parsedGridSizes.first else {
                throw ValidationError("unknown allocation probe '\(allocationProbe)'")
            }
            try AllocationCount.runProbe(probe, gridSize: side, iterations: iterations)
            return
        }
        #if DEBUG
        StandardError.write("warning: this is a debug build; for real figures run `swift build -c release` and .build/release/hyphae bench engine")
        #endif
        let plan = EngineBenchmarkPlan(
            gridSizes: parsedGridSizes, iterations: iterations, repetitions: repetitions,
            numpyReference: numpy ? reference : nil, numpySteps: numpySteps, countsAllocations: countAllocations)
        try plan.run { print($0) }
    }
}
