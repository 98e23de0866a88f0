#if canImport(Glibc)
import Glibc
#endif
@testable import HyphaeHost
import HyphaeTesting
import Logging
import XCTest

/// The heap trimmer hands freed pages back to the kernel: a heap whose free blocks sit
/// between live ones shrinks in resident size, and a running host trims on its interval.
final class HeapTrimmerTests: XCTestCase {
    func testATrimGivesBackFreePagesBetweenLiveBlocks() throws {
        try XCTSkipUnless(HeapTrimmer.isSupported, "malloc_trim is glibc's")
        // Every other block freed: the free ones cannot be returned by shrinking the heap's top.
        let blockBytes = 64 << 10
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<1_024 {
            guard let block = malloc(blockBytes) else { return XCTFail("malloc failed") }
            memset(block, 0xA5, blockBytes)
            blocks.append(block)
        }
        defer { for (index, block) in blocks.enumerated() where index % 2 == 1 { free(block) } }
        for (index, block) in blocks.enumerated() where index % 2 == 0 { free(block) }

        let trim = HeapTrim.now()
        // 512 free blocks of 64 KiB hold at least 15 whole pages each: about 30 MiB.
        XCTAssertGreaterThan(trim.releasedBytes, 16 << 20, "before \(trim.residentBefore), after \(trim.residentAfter)")
    }

    func testAHostTrimsOnItsIntervalAndReportsIt() async throws {
        try XCTSkipUnless(HeapTrimmer.isSupported, "malloc_trim is glibc's")
        try await withHost(configure: { $0.heapTrimInterval = 0.05 }) { host in
            let trims = try await Self.trims(by: host, reaching: 3)
            XCTAssertGreaterThanOrEqual(trims, 3)
        }
    }

    /// An interval under a millisecond was once cut to zero, which turned trimming off.
    func testAnIntervalUnderAMillisecondStillTrims() async throws {
        try XCTSkipUnless(HeapTrimmer.isSupported, "malloc_trim is glibc's")
        try await withHost(configure: { $0.heapTrimInterval = 0.0005 }) { host in
            let trims = try await Self.trims(by: host, reaching: 3)
            XCTAssertGreaterThanOrEqual(trims, 3)
        }
    }

    /// With no interval the trimmer returns at once instead of waiting for a first trim.
    func testATrimmerWithoutAnIntervalReturnsAtOnce() async throws {
        let trimmer = HeapTrimmer(interval: .zero, metrics: HostMetrics(), logger: Logger(label: "test"))
        let returned = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await trimmer.run()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        XCTAssertTrue(returned, "run() kept going with trimming off")
    }

    func testTrimmingOffMeansNoTrim() async throws {
        try await withHost(configure: { $0.heapTrimInterval = 0 }) { host in
            // A ticker keeps the host busy meanwhile, so that a trim would have had reasons to run.
            let client = try await host.connect("/ws/ticker")
            try await client.subscribeSucceeding("t", params: ["rate": 100])
            _ = try await client.frames("t", count: 20)
            let metrics = try await host.get("/metrics").body
            XCTAssertEqual(Self.sampleCount(in: metrics), 0, metrics)
        }
    }

    func testTheIntervalIsValidatedAtLoad() throws {
        let folder = try TemporaryFolder()
        let bad = try folder.write("bad.conf", "heap_trim_interval: -1\n")
        XCTAssertThrowsError(try HostConfiguration.load(file: bad)) { error in
            XCTAssertTrue("\(error)".contains("heap_trim_interval"), "\(error)")
        }
        let good = try folder.write("good.conf", "heap_trim_interval: 30\n")
        XCTAssertEqual(try HostConfiguration.load(file: good).heapTrimInterval, 30)
    }

    /// The trims the host's metrics count, read until there are `count` or 10 s passed.
    private static func trims(by host: RunningHost, reaching count: Int) async throws -> Int {
        var trims = 0
        for _ in 0..<500 where trims < count {
            trims = sampleCount(in: try await host.get("/metrics").body)
            if trims < count { try await Task.sleep(for: .milliseconds(20)) }
        }
        return trims
    }

    private static func sampleCount(in metrics: String) -> Int {
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("hyphae_heap_trim_seconds_count") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
    }
}
