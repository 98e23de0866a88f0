import ArgumentParser
import Foundation
import HyphaeCore
import MFN

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
        var rows: [JSONValue] = []
        print("engine compiled for: \(MyceliumField.vectorTarget)")
        print("grid      step µs (min–max)         step+features µs (min–max)" + (numpy ? "   NumPy step+features µs   ratio" : "")
            + (countAllocations ? "   allocations/step (step, +features; control)" : ""))
        for side in parsedGridSizes {
            let timing = try measureEngine(gridSize: side, iterations: iterations, repetitions: repetitions)
            var row: JSONObject = [
                "grid": .int(side),
                "step_us": .double(timing.step.median.roundedTo(3)),
                "step_us_min": .double(timing.step.minimum.roundedTo(3)),
                "step_us_max": .double(timing.step.maximum.roundedTo(3)),
                "step_and_features_us": .double(timing.stepAndFeatures.median.roundedTo(3)),
                "step_and_features_us_min": .double(timing.stepAndFeatures.minimum.roundedTo(3)),
                "step_and_features_us_max": .double(timing.stepAndFeatures.maximum.roundedTo(3)),
            ]
            var line = "\(side)×\(side)".padded(9)
                + "\(timing.step.median.roundedTo(2)) (\(timing.step.minimum.roundedTo(2))–\(timing.step.maximum.roundedTo(2)))".padded(26)
                + "\(timing.stepAndFeatures.median.roundedTo(2)) (\(timing.stepAndFeatures.minimum.roundedTo(2))–\(timing.stepAndFeatures.maximum.roundedTo(2)))".padded(29)
            if numpy {
                let reference = try measureNumpyReference(script: reference, gridSize: side, steps: numpySteps)
                let ratio = reference.us_per_step_and_features / timing.stepAndFeatures.median
                row["numpy_version"] = .string(reference.numpy)
                row["numpy_step_us"] = .double(reference.us_per_step)
                row["numpy_step_and_features_us"] = .double(reference.us_per_step_and_features)
                row["speedup_vs_numpy"] = .double(ratio.roundedTo(1))
                line += "   " + "\(reference.us_per_step_and_features.roundedTo(1))".padded(24) + "\(ratio.roundedTo(1))×"
            }
            if countAllocations {
                let windows = try AllocationCount.measure(gridSize: side, iterations: min(iterations, 200))
                var counts = JSONObject()
                for window in windows {
                    counts[window.label] = .double(Double(window.allocations) / Double(window.iterations))
                }
                row["allocations_per_iteration"] = .object(counts)
                let perStep = windows.map { "\((Double($0.allocations) / Double($0.iterations)).roundedTo(2))" }
                line += "   step \(perStep[1]), +features \(perStep[2]); control \(perStep[0])"
            }
            print(line)
            rows.append(.object(row))
        }
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        let summary: JSONObject = [
            "benchmark": "mfn_engine",
            "build": .string(build),
            "cores": .int(ProcessInfo.processInfo.activeProcessorCount),
            "vector_target": .string(MyceliumField.vectorTarget),
            "iterations": .int(iterations),
            "repetitions": .int(repetitions),
            "numpy_steps": numpy ? .int(numpySteps) : .null,
            "results": .array(rows),
        ]
        print(JSONValue.object(summary).jsonText)
    }
}

extension Double {
    fileprivate func roundedTo(_ decimals: Int) -> Double {
        let scale = (0..<decimals).reduce(1.0) { product, _ in product * 10 }
        return (self * scale).rounded() / scale
    }
}

extension String {
    fileprivate func padded(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
