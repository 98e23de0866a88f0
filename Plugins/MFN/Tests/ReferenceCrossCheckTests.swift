import Foundation
import XCTest

@testable import MFN

/// Runs the engine, exports the run, and has the independent NumPy reference
/// (`Tests/reference/mfn_reference.py`) replay and compare it. Jitter stays off: its per-cell draws are
/// not exported.
final class ReferenceCrossCheckTests: XCTestCase {
    private struct Export: Encodable {
        struct Parameters: Encodable {
            struct Activity: Encodable {
                let kind: String
                let volts: Double
            }
            let grid_size: Int
            let alpha: Double
            let spike_probability: Double
            let turing_enabled: Bool
            let turing_threshold: Double
            let d_a: Double
            let d_h: Double
            let r_a: Double
            let r_h: Double
            let jitter_var: Double?
            let activity_threshold: Activity

            init(_ p: FieldParameters) {
                grid_size = p.gridSize
                alpha = p.alpha
                spike_probability = p.spikeProbability
                turing_enabled = p.turingEnabled
                turing_threshold = p.turingThreshold
                d_a = p.diffusionActivator
                d_h = p.diffusionInhibitor
                r_a = p.reactionActivator
                r_h = p.reactionInhibitor
                jitter_var = p.jitterVariance
                switch p.activityThreshold {
                case .absolute(let volts): activity_threshold = Activity(kind: "absolute", volts: volts)
                case .aboveFieldMean(let volts): activity_threshold = Activity(kind: "above_field_mean", volts: volts)
                }
            }

            func encode(to encoder: Encoder) throws {
                var container = encoder.container(keyedBy: Keys.self)
                try container.encode(grid_size, forKey: .grid_size)
                try container.encode(alpha, forKey: .alpha)
                try container.encode(spike_probability, forKey: .spike_probability)
                try container.encode(turing_enabled, forKey: .turing_enabled)
                try container.encode(turing_threshold, forKey: .turing_threshold)
                try container.encode(d_a, forKey: .d_a)
                try container.encode(d_h, forKey: .d_h)
                try container.encode(r_a, forKey: .r_a)
                try container.encode(r_h, forKey: .r_h)
                // Written as null rather than left out, so the reference sees that jitter is off.
                try container.encode(jitter_var, forKey: .jitter_var)
                try container.encode(activity_threshold, forKey: .activity_threshold)
            }

            private enum Keys: String, CodingKey {
                case grid_size, alpha, spike_probability, turing_enabled, turing_threshold
                case d_a, d_h, r_a, r_h, jitter_var, activity_threshold
            }
        }

        let parameters: Parameters
        let initial: FieldState
        let spikes: [GrowthEvent?]
        let features: [FieldFeatures]
        let final: FieldState
        let growth_events: Int
    }

    func testNumpyReferenceReplaysTheEngine() throws {
        try crossCheck(parameters: FieldParameters(), seed: 20_250_101, steps: 500)
    }

    /// The default rates never lift the activator to the Turing threshold; this run does, so the 5 mV
    /// boost and both clips are compared too.
    func testNumpyReferenceAgreesWithTuringFiringOnAnOddGrid() throws {
        let parameters = FieldParameters(
            gridSize: 37, alpha: 0.22, spikeProbability: 0.9, turingThreshold: 0.06, reactionActivator: 0.6,
            activityThreshold: .absolute(volts: -0.0695))
        try crossCheck(parameters: parameters, seed: 9, steps: 200)
    }

    private func crossCheck(parameters: FieldParameters, seed: UInt64, steps: Int) throws {
        var field = try MyceliumField(parameters: parameters, seed: seed)
        let initial = field.state
        var spikes: [GrowthEvent?] = []
        var features: [FieldFeatures] = []
        for _ in 0..<steps {
            spikes.append(try field.step())
            features.append(field.features())
        }
        let export = Export(
            parameters: .init(parameters), initial: initial, spikes: spikes, features: features,
            final: field.state, growth_events: field.growthEvents)

        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("mfn-cross-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let exportFile = folder.appendingPathComponent("export.json")
        try JSONEncoder().encode(export).write(to: exportFile)

        let result = try runPython([Self.referenceScript().path, "check", exportFile.path])
        XCTAssertEqual(result.status, 0, "the NumPy reference disagrees:\n\(result.output)")
        print(result.output, terminator: "")
    }

    private func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let numpyProbe = try run(["python3", "-c", "import numpy"])
        guard numpyProbe.status == 0 else {
            XCTFail("the MFN cross-check needs python3 with NumPy: install it with `pip install numpy`\n\(numpyProbe.output)")
            return (numpyProbe.status, numpyProbe.output)
        }
        return try run(["python3"] + arguments)
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The repository root is the nearest folder above this file that holds the reference script.
    private static func referenceScript(file: String = #filePath) throws -> URL {
        var folder = URL(fileURLWithPath: file).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("Tests/reference/mfn_reference.py")
            if FileManager.default.fileExists(atPath: candidate.path) {
                return candidate
            }
            folder = folder.deletingLastPathComponent()
        }
        struct ScriptNotFound: Error {}
        XCTFail("Tests/reference/mfn_reference.py was not found above \(file)")
        throw ScriptNotFound()
    }
}
