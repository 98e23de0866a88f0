import Foundation
import HyphaeCore
import MFN

/// Median, fastest and slowest of a set of timings.
struct TimingSummary: Sendable {
    let median: Double
    let minimum: Double
    let maximum: Double

    init(_ values: [Double]) {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        minimum = sorted.first ?? .nan
        maximum = sorted.last ?? .nan
    }
}

/// Wall time per iteration of the engine on one grid size, in microseconds.
struct EngineTiming: Sendable {
    let gridSize: Int
    let iterations: Int
    let repetitions: Int
    /// `step()` alone.
    let step: TimingSummary
    /// `step()` then `features()`: what a `feature_update` costs before encoding.
    let stepAndFeatures: TimingSummary
}

/// Times a default-parameter field (Turing on, jitter off, as the pipelines run it): `repetitions`
/// runs of `iterations` steps for step alone, then for step plus features, each after an untimed
/// warm-up run. The field carries on from run to run, as a stream's does.
func measureEngine(gridSize: Int, iterations: Int, repetitions: Int, seed: UInt64 = 1) throws -> EngineTiming {
    var field = try MyceliumField(parameters: FieldParameters(gridSize: gridSize), seed: seed)
    // Read after the runs, so the optimiser cannot drop the feature work.
    var checksum = 0.0

    func microsecondsPerIteration(withFeatures: Bool) throws -> Double {
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for _ in 0..<iterations {
                try field.step()
                if withFeatures { checksum += field.features().fractalDimension }
            }
        }
        let (seconds, attoseconds) = elapsed.components
        return (Double(seconds) * 1e6 + Double(attoseconds) / 1e12) / Double(iterations)
    }

    _ = try microsecondsPerIteration(withFeatures: false)
    let stepTimes = try (0..<repetitions).map { _ in try microsecondsPerIteration(withFeatures: false) }
    _ = try microsecondsPerIteration(withFeatures: true)
    let bothTimes = try (0..<repetitions).map { _ in try microsecondsPerIteration(withFeatures: true) }
    if checksum.isNaN { FileHandle.standardError.write(Data("bench engine: a feature was NaN\n".utf8)) }
    return EngineTiming(
        gridSize: gridSize, iterations: iterations, repetitions: repetitions,
        step: TimingSummary(stepTimes), stepAndFeatures: TimingSummary(bothTimes))
}

/// The NumPy reference's own timing of the same update (`mfn_reference.py bench`): the fastest of
/// three runs, in microseconds per iteration.
struct NumpyTiming: Sendable, Decodable {
    let numpy: String
    let us_per_step: Double
    let us_per_step_and_features: Double
}

struct ReferenceFailed: Error, CustomStringConvertible {
    let description: String
}

func measureNumpyReference(script: String, gridSize: Int, steps: Int) throws -> NumpyTiming {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script, "bench", "--grid", "\(gridSize)", "--steps", "\(steps)"]
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ReferenceFailed(description: "python3 \(script) bench exited with \(process.terminationStatus): \(errorText)")
    }
    do {
        return try JSONDecoder().decode(NumpyTiming.self, from: data)
    } catch {
        throw ReferenceFailed(description: "python3 \(script) bench printed something other than its JSON line: \(String(decoding: data, as: UTF8.self))")
    }
}

/// One run of `hyphae bench engine`: which grids, how long, and what to compare against.
public struct EngineBenchmarkPlan: Sendable {
    public var gridSizes: [Int]
    public var iterations: Int
    public var repetitions: Int
    /// The NumPy reference script to time in the same run, if any.
    public var numpyReference: String?
    public var numpySteps: Int
    public var countsAllocations: Bool

    public init(gridSizes: [Int], iterations: Int, repetitions: Int, numpyReference: String?, numpySteps: Int, countsAllocations: Bool) {
        self.gridSizes = gridSizes
        self.iterations = iterations
        self.repetitions = repetitions
        self.numpyReference = numpyReference
        self.numpySteps = numpySteps
        self.countsAllocations = countsAllocations
    }

    /// Measures every grid and hands `output` the table's lines, then one JSON line.
    public func run(output: (String) -> Void) throws {
    var rows: [JSONValue] = []
    output("engine compiled for: \(MyceliumField.vectorTarget)")
    output("grid      step µs (min–max)         step+features µs (min–max)" + (numpyReference != nil ? "   NumPy step+features µs   ratio" : "")
        + (countsAllocations ? "   allocations/step (step, +features; control)" : ""))
    for side in gridSizes {
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
        if let reference = numpyReference {
            let reference = try measureNumpyReference(script: reference, gridSize: side, steps: numpySteps)
            let ratio = reference.us_per_step_and_features / timing.stepAndFeatures.median
            row["numpy_version"] = .string(reference.numpy)
            row["numpy_step_us"] = .double(reference.us_per_step)
            row["numpy_step_and_features_us"] = .double(reference.us_per_step_and_features)
            row["speedup_vs_numpy"] = .double(ratio.roundedTo(1))
            line += "   " + "\(reference.us_per_step_and_features.roundedTo(1))".padded(24) + "\(ratio.roundedTo(1))×"
        }
        if countsAllocations {
            let windows = try AllocationCount.measure(gridSize: side, iterations: min(iterations, 200))
            var counts = JSONObject()
            for window in windows {
                counts[window.label] = .double(Double(window.allocations) / Double(window.iterations))
            }
            row["allocations_per_iteration"] = .object(counts)
            let perStep = windows.map { "\((Double($0.allocations) / Double($0.iterations)).roundedTo(2))" }
            line += "   step \(perStep[1]), +features \(perStep[2]); control \(perStep[0])"
        }
        output(line)
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
        "numpy_steps": numpyReference != nil ? .int(numpySteps) : .null,
        "results": .array(rows),
    ]
    output(JSONValue.object(summary).jsonText)
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
