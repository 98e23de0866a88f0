import CHeapTrim
import Foundation
import Logging
import NIOPosix

/// Every `interval`, hands the heap's free pages back to the kernel (glibc's
/// `malloc_trim`), off the event loops.
///
/// Why: subscription queues fill to their byte budget with per-instance frame copies
/// and empty as slow readers come and go; glibc keeps the freed pages, scattered
/// among live allocations, so the resident size of a busy host creeps upward for
/// hours although what it holds stays bounded (Docs/OPERATIONS.md, Soak).
struct HeapTrimmer: Sendable {
    /// Whether this C library can trim (glibc); elsewhere the trimmer does nothing.
    static let isSupported = HYPHAE_CAN_TRIM_HEAP != 0

    let interval: Duration
    let metrics: HostMetrics
    let logger: Logger

    /// Trims until cancelled. Returns at once where trimming is off or unsupported.
    func run() async {
        guard Self.isSupported, interval > .zero else { return }
        while true {
            do {
                try await Task.sleep(for: interval)
                // malloc_trim walks every arena: a blocking call, kept off the cooperative pool.
                let trim = try await NIOThreadPool.singleton.runIfActive { HeapTrim.now() }
                record(trim)
            } catch {
                return
            }
        }
    }

    private func record(_ trim: HeapTrim) {
        metrics.heapTrims.observe(seconds: trim.seconds)
        metrics.heapBytesReleased.add(trim.releasedBytes)
        logger.debug("trimmed the heap", metadata: [
            "event": "heap_trimmed", "released_bytes": "\(trim.releasedBytes)",
            "resident_bytes": "\(trim.residentAfter)", "seconds": "\(trim.seconds)",
        ])
    }
}

/// One `malloc_trim`: how long it took and how much resident memory it gave back.
struct HeapTrim: Sendable {
    var seconds: Double
    var residentBefore: Int
    var residentAfter: Int

    var releasedBytes: Int { max(0, residentBefore - residentAfter) }

    static func now() -> HeapTrim {
        let before = ResidentMemory.bytes()
        let start = ContinuousClock.now
        _ = hyphae_trim_heap()
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return HeapTrim(seconds: seconds, residentBefore: before, residentAfter: ResidentMemory.bytes())
    }
}

/// The process's resident set size, from `/proc/self/statm`; 0 where there is none.
enum ResidentMemory {
    static func bytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
