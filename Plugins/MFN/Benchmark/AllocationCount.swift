import Foundation
import MFN

#if canImport(Glibc)
import Glibc
#endif

/// Counts the heap allocations made by a stretch of code, with glibc's allocation trace.
///
/// glibc (2.34 and later) keeps `mtrace()` in `libc_malloc_debug.so.0`, which only takes effect when
/// preloaded. So the counting runs in a child copy of this executable started with
/// `LD_PRELOAD=libc_malloc_debug.so.0` and `MALLOC_TRACE=<file>`; the child switches the trace on
/// around exactly the code measured, and the parent counts the allocations the file records
/// (`malloc`, `calloc`, `realloc` to a new block, aligned allocations). Whatever the runtime allocates
/// at start-up or in the field's creation falls outside the window.
public enum AllocationCount {
    static let debugLibrary = "libc_malloc_debug.so.0"

    /// What one window recorded.
    struct Window: Sendable {
        let label: String
        let iterations: Int
        let allocations: Int
    }

    /// The probes a child runs, each a labelled window; the parent reads them back in this order.
    public enum Probe: String, CaseIterable, Sendable {
        /// An array created per iteration: proves that the count sees allocations.
        case control
        case step
        case stepAndFeatures = "step+features"
    }

    // MARK: In the parent

    /// Runs the child for `gridSize` and counts each probe's allocations.
    static func measure(gridSize: Int, iterations: Int) throws -> [Window] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hyphae-alloc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var windows: [Window] = []
        for probe in Probe.allCases {
            let trace = folder.appendingPathComponent("\(probe).trace")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            process.arguments = [
                "bench", "engine", "--allocation-probe", probe.rawValue,
                "--grid-sizes", "\(gridSize)", "--iterations", "\(iterations)",
            ]
            var environment = ProcessInfo.processInfo.environment
            environment["LD_PRELOAD"] = debugLibrary
            environment["MALLOC_TRACE"] = trace.path
            process.environment = environment
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw ReferenceFailed(description: "the allocation probe '\(probe.rawValue)' exited with \(process.terminationStatus)")
            }
            let text = (try? String(contentsOf: trace, encoding: .utf8)) ?? ""
            guard text.contains("= Start") else {
                throw ReferenceFailed(description: "glibc wrote no allocation trace; is \(debugLibrary) installed (glibc 2.34 or later)?")
            }
            windows.append(Window(label: probe.rawValue, iterations: iterations, allocations: allocationLines(in: text)))
        }
        return windows
    }

    /// Trace lines look like `@ caller + 0x55d0c8 0x40` (malloc), `@ caller - 0x55d0c8` (free),
    /// `@ caller < 0x…` / `@ caller > 0x… 0x80` (realloc: the old block, then the new one).
    private static func allocationLines(in trace: String) -> Int {
        var count = 0
        for line in trace.split(separator: "\n") where line.hasPrefix("@") {
            let tokens = line.split(separator: " ")
            if tokens.contains("+") || tokens.contains(">") { count += 1 }
        }
        return count
    }

    // MARK: In the child

    /// Runs one probe with the trace on around the measured loop only.
    public static func runProbe(_ probe: Probe, gridSize: Int, iterations: Int) throws {
        // `mtrace` exists only as a versioned compatibility symbol, which plain `dlsym` skips (and
        // libc.so.6 keeps a do-nothing one of the same version), so it is asked for by version, in the
        // preloaded library itself, through `dlvsym` (which Swift's Glibc module does not declare).
        typealias VersionedLookup = @convention(c) (
            UnsafeMutableRawPointer?, UnsafePointer<CChar>, UnsafePointer<CChar>
        ) -> UnsafeMutableRawPointer?
        typealias TraceSwitch = @convention(c) () -> Void
        guard let library = dlopen(debugLibrary, RTLD_NOW | RTLD_NOLOAD) else {
            throw ReferenceFailed(description: "\(debugLibrary) is not loaded; run with LD_PRELOAD=\(debugLibrary)")
        }
        guard let lookupSymbol = dlsym(dlopen(nil, RTLD_NOW), "dlvsym") else {
            throw ReferenceFailed(description: "this C library has no dlvsym")
        }
        let lookup = unsafeBitCast(lookupSymbol, to: VersionedLookup.self)
        guard let startSymbol = lookup(library, "mtrace", "GLIBC_2.2.5"),
            let stopSymbol = lookup(library, "muntrace", "GLIBC_2.2.5")
        else {
            throw ReferenceFailed(description: "\(debugLibrary) has no mtrace/muntrace")
        }
        let startTrace = unsafeBitCast(startSymbol, to: TraceSwitch.self)
        let stopTrace = unsafeBitCast(stopSymbol, to: TraceSwitch.self)

        var field = try MyceliumField(parameters: FieldParameters(gridSize: gridSize), seed: 1)
        var checksum = 0.0
        // One untraced round first, so that anything done once (lazy runtime set-up) is not counted.
        try field.step()
        checksum += field.features().fractalDimension
        var kept: [Int] = []
        kept.reserveCapacity(1)

        startTrace()
        switch probe {
        case .control:
            for iteration in 0..<iterations {
                let fresh = [Int](repeating: iteration, count: 16)
                kept = fresh
            }
        case .step:
            for _ in 0..<iterations { try field.step() }
        case .stepAndFeatures:
            for _ in 0..<iterations {
                try field.step()
                checksum += field.features().fractalDimension
            }
        }
        stopTrace()
        if checksum.isNaN || kept.count > 16 { print("unexpected: NaN features") }
    }
}
