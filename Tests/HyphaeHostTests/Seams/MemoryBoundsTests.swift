@testable import HyphaeHost
import HyphaeProtocol
import HyphaeTesting
import NIOCore
import XCTest

/// Queues are bounded in bytes as well as frames, and all of them together by the
/// host's budget: past either, the policy acts as it does on a full queue.
final class MemoryBoundsTests: XCTestCase {
    /// The bytes of a numbered frame (all have the same size below 10) under a one-letter stream id.
    private func frameBytes(_ harness: DeliveryHarness) throws -> Int {
        let message = ServerFrames.data(NumberedFrames.encoded(0), escapedStreamID: Array("s".utf8), allocator: harness.connection.output.allocator)
        return message.readableBytes
    }

    func testAQueueFullOfBytesDropsAsAFullQueueDoes() throws {
        let harness = try DeliveryHarness()
        let size = try frameBytes(harness)
        let subscription = harness.subscribe(policy: .dropOldest, capacity: 1000, byteCapacity: 3 * size)
        harness.connection.isWritable = false
        let outcomes = (0...4).map { subscription.offer(frame: $0) }
        XCTAssertEqual(outcomes, [.queued(dropping: 0), .queued(dropping: 0), .queued(dropping: 0), .queued(dropping: 1), .queued(dropping: 1)])
        XCTAssertEqual(subscription.queuedCount, 3, "three frames' bytes, though the queue takes 1000 frames")
        XCTAssertLessThanOrEqual(subscription.queuedBytes, 3 * size)
        XCTAssertEqual(subscription.droppedFrames, 2)
    }

    func testTheHostBudgetBoundsEveryQueueTogetherAndIsGivenBack() throws {
        let harness = try DeliveryHarness()
        let size = try frameBytes(harness)
        let budget = QueuedBytesBudget(limit: 4 * size)
        let first = harness.subscribe("a", policy: .dropNewest, budget: budget)
        let second = harness.subscribe("b", policy: .dropNewest, budget: budget)
        harness.connection.isWritable = false
        for sequence in 0..<2 {
            XCTAssertEqual(first.offer(frame: sequence), .queued(dropping: 0))
            XCTAssertEqual(second.offer(frame: sequence), .queued(dropping: 0))
        }
        XCTAssertTrue(budget.isExhausted)
        XCTAssertEqual(second.offer(frame: 2), .droppedOnArrival, "the budget is spent, so the queue acts as full")
        first.cancel()
        XCTAssertFalse(budget.isExhausted, "a cancelled queue gives its bytes back")
        XCTAssertEqual(second.offer(frame: 3), .queued(dropping: 0))
        harness.connection.isWritable = true
        _ = second.drain()
        XCTAssertEqual(budget.bytesInUse, 0, "drained frames give their bytes back")
    }

    func testLoopbackCountsOnlyInAllAndOtherAddressesEachAgainstTheirLimit() throws {
        var limits = HostLimits()
        limits.maxConnections = 4
        limits.maxConnectionsPerAddress = 2
        let counts = ConnectionCounts(limits: limits)
        XCTAssertNil(counts.admit(address: "203.0.113.7"))
        XCTAssertNil(counts.admit(address: "203.0.113.7"))
        XCTAssertEqual(counts.admit(address: "203.0.113.7"), .addressFull(limit: 2))
        XCTAssertNil(counts.admit(address: "198.51.100.1"))
        XCTAssertNil(counts.admit(address: nil))
        XCTAssertEqual(counts.admit(address: nil), .hostFull(limit: 4))
        counts.release(address: "203.0.113.7")
        XCTAssertEqual(counts.total, 3)
        XCTAssertNil(counts.admit(address: "203.0.113.7"))

        let loopback = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        let loopback6 = try SocketAddress(ipAddress: "::1", port: 9)
        let remote = try SocketAddress(ipAddress: "203.0.113.7", port: 9)
        XCTAssertNil(ConnectionLimiter.limitedAddress(of: loopback, trusted: AddressRange.loopback))
        XCTAssertNil(ConnectionLimiter.limitedAddress(of: loopback6, trusted: AddressRange.loopback))
        XCTAssertEqual(ConnectionLimiter.limitedAddress(of: remote, trusted: AddressRange.loopback), "203.0.113.7")
        XCTAssertEqual(ConnectionLimiter.limitedAddress(of: loopback, trusted: []), "127.0.0.1", "an empty list trusts no one")
    }

    func testLimitsReadFromTheHostConfigFileAndFlagValuesAreChecked() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("host.yaml", "limits:\n  max_connections: 10\n  max_messages_per_second: 2.5\n")
        let configuration = try HostConfiguration.load(file: path)
        XCTAssertEqual(configuration.limits.maxConnections, 10)
        XCTAssertEqual(configuration.limits.maxMessagesPerSecond, 2.5)
        let bad = try folder.write("bad.yaml", "limits:\n  max_conections: 10\n")
        XCTAssertThrowsError(try HostConfiguration.load(file: bad)) { error in
            XCTAssertTrue("\(error)".contains("limits.max_conections"), "\(error)")
            XCTAssertTrue("\(error)".contains("max_connections"), "suggests the nearest name: \(error)")
        }
        var flagged = HostConfiguration()
        flagged.limits.maxConnections = 0
        XCTAssertTrue(flagged.startupProblems().contains { $0.contains("max-connections is 0") }, "\(flagged.startupProblems())")
    }
}
