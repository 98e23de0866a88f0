import HyphaeCore
import HyphaeTesting
import Logging
import NIOCore
import NIOPosix
import Redis
import XCTest

/// A `redis_source`'s replayer against a real `redis-server`: what a resuming
/// subscriber gets back from the stream, and when it gets nothing; and where a source
/// that takes over from another (a reload) starts reading.
final class RedisReplayerTests: XCTestCase {
    private var server: RedisServerProcess!
    private var reader: Task<Void, Never>?

    override func setUp() async throws {
        server = try await RedisServerProcess.start()
    }

    override func tearDown() async throws {
        reader?.cancel()
        await reader?.value
        server?.stop()
        server = nil
    }

    /// Writes frames of `epoch` numbered `sequences`, as a producer's `redis` sink would.
    private func write(_ sequences: [Int], epoch: String = "run-1") async throws {
        let connection = try await RedisConnection.connect(
            to: RedisEndpoint(host: "127.0.0.1", port: server.port), settings: RedisConnectionSettings(), on: MultiThreadedEventLoopGroup.singleton)
        defer { connection.close() }
        var relay = RelayedFrame()
        for sequence in sequences {
            let frame = Frame(type: "tick", timestamp: 1_700_000_000_000 + Double(sequence), payload: ["count": .int(sequence)], sequence: sequence)
            let bytes = relay.encode(frame, epoch: epoch)
            _ = try await connection.request(RESPCommand([Array("XADD".utf8), Array("s".utf8), Array("*".utf8), Array("frame".utf8), bytes]))
        }
    }

    /// Starts a source reading `s` from its newest entry, and returns the slot it offered its replayer to.
    private func startSource() throws -> ReplaySlot {
        let (configuration, problems) = readConfiguration(RedisSource.Configuration.self, yaml: "url: \(server.url)\nblock_ms: 100\nstream: s", stageType: "redis_source")
        XCTAssertEqual(problems, [])
        XCTAssertTrue(configuration.offersReplay)
        let slot = ReplaySlot()
        var resources = StageResources()
        resources[ReplaySlot.self] = slot
        var source = try RedisSource(configuration: configuration, context: StageContext(pipeline: "relay", instance: "test", logger: Logger(label: "redis.test"), resources: resources))
        reader = Task {
            while !Task.isCancelled, (try? await source.next()) != nil {}
        }
        return slot
    }

    private func replay(_ slot: ReplaySlot, after point: StreamPosition?, frames: Int = 1000, bytes: Int = 1 << 20) async throws -> Replay {
        let answer = await slot.replay(after: point, limits: ReplayLimits(frames: frames, bytes: bytes, timeout: .seconds(10)))
        return try XCTUnwrap(answer, "the source offered no replayer")
    }

    func testTheFramesAfterThePointComeBackInOrderWithinTheLimits() async throws {
        // 20 is written twice (a producer's buffer, written again after Redis came back).
        try await write(Array(0...20) + Array(20...29))
        let slot = try startSource()

        let all = try await replay(slot, after: StreamPosition(epoch: "run-1", sequence: 9))
        XCTAssertEqual(all.position, StreamPosition(epoch: "run-1", sequence: 29))
        XCTAssertEqual(all.frames?.map(\.sequence), Array(10...29))
        XCTAssertEqual(all.frames?.map(\.payload["count"]), (10...29).map { .int($0) })
        XCTAssertEqual(all.frames?.first?.epoch, "run-1")

        let upToDate = try await replay(slot, after: StreamPosition(epoch: "run-1", sequence: 29))
        XCTAssertEqual(upToDate.frames?.count, 0, "nothing after the newest")
        let noPoint = try await replay(slot, after: nil)
        XCTAssertEqual(noPoint.position, StreamPosition(epoch: "run-1", sequence: 29))

        let overFrames = try await replay(slot, after: StreamPosition(epoch: "run-1", sequence: 9), frames: 5)
        XCTAssertNil(overFrames.frames, "20 frames, past the limit of 5")
        XCTAssertEqual(overFrames.missed, 20)
        let overBytes = try await replay(slot, after: StreamPosition(epoch: "run-1", sequence: 9), bytes: 500)
        XCTAssertNil(overBytes.frames, "past the limit of 500 bytes")

        let otherRun = try await replay(slot, after: StreamPosition(epoch: "run-0", sequence: 9))
        XCTAssertNil(otherRun.frames)
        XCTAssertNil(otherRun.missed, "another run's numbering says nothing of this one's")

        _ = try server.cli(["XTRIM", "s", "MAXLEN", "10"])
        let trimmed = try await replay(slot, after: StreamPosition(epoch: "run-1", sequence: 9))
        XCTAssertNil(trimmed.frames, "frames after 9 were trimmed")
        XCTAssertEqual(trimmed.missed, 20)
    }

    func testAFrameMissingFromTheStreamIsNotReplayedOver() async throws {
        // 30 never reached Redis (the producer dropped it); then a new run starts.
        try await write(Array(0...29) + Array(31...33))
        let slot = try startSource()
        let acrossTheHole = try await replay(slot, after: StreamPosition(epoch: "run-1", sequence: 25))
        XCTAssertNil(acrossTheHole.frames)
        XCTAssertEqual(acrossTheHole.missed, 8)
        let afterTheHole = try await replay(slot, after: StreamPosition(epoch: "run-1", sequence: 30))
        XCTAssertEqual(afterTheHole.frames?.map(\.sequence), [31, 32, 33])
    }

    /// A reload's new source reads on after the frame its predecessor handed on last
    /// when that frame's entry is among the newest `count`; otherwise it starts after
    /// the newest entry, and counts the frames in between as missed.
    func testASourceThatTakesOverReadsOnOrCountsWhatItSkips() async throws {
        try await write(Array(0...9))
        func takingOver(count: Int, board: DependencyBoard) -> (RedisSource.Configuration, StageContext) {
            let yaml = "url: \(server.url)\nblock_ms: 100\nstream: s\ncount: \(count)"
            let (configuration, problems) = readConfiguration(RedisSource.Configuration.self, yaml: yaml, stageType: "redis_source")
            XCTAssertEqual(problems, [])
            var resources = StageResources()
            resources[DependencyBoard.self] = board
            let context = StageContext(
                pipeline: "relay", instance: "test", logger: Logger(label: "redis.test"), resources: resources,
                continuing: StreamPosition(epoch: "run-1", sequence: 3))
            return (configuration, context)
        }
        let (foundConfiguration, foundContext) = takingOver(count: 100, board: DependencyBoard())
        var found = try RedisSource(configuration: foundConfiguration, context: foundContext)
        var read: [Int] = []
        for _ in 4...9 {
            let next = try await found.next()
            read.append(try XCTUnwrap(next).sequence)
        }
        XCTAssertEqual(read, Array(4...9), "on after 3, with nothing lost")

        let board = DependencyBoard()
        let (configuration, context) = takingOver(count: 2, board: board)
        let first = Task { () throws -> Int? in
            var source = try RedisSource(configuration: configuration, context: context)
            return try await source.next()?.sequence
        }
        // Written once the source has connected (after the newest entry, 9); a bound on a wait, not a timing assertion.
        try await Task.sleep(for: .milliseconds(300))
        try await write([10])
        let sequence = try await first.value
        XCTAssertEqual(sequence, 10)
        let counts = board.snapshot().first?.entry.counts ?? [:]
        XCTAssertEqual(counts["frames_missed"], 6, "4 to 9 were skipped, and counted: \(counts)")
    }

    func testASourceWithoutEntriesKnowsNoPosition() async throws {
        let slot = try startSource()
        let empty = try await replay(slot, after: StreamPosition(epoch: "run-1", sequence: 3))
        XCTAssertNil(empty.position)
        XCTAssertNil(empty.frames)
    }
}
