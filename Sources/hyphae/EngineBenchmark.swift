import Foundation
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
