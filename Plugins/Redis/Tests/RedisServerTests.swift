import HyphaeCore
import HyphaeTesting
import Logging
import NIOCore
import NIOPosix
import Redis
import XCTest

/// The codec, the connection and both stages against a real `redis-server` on a free
/// loopback port, started and stopped here.
final class RedisServerTests: XCTestCase {
    private var server: RedisServerProcess!

    override func setUp() async throws {
        server = try await RedisServerProcess.start()
    }

    override func tearDown() async throws {
        server?.stop()
        server = nil
    }

    private func connect(password: String? = nil) async throws -> RedisConnection {
        var endpoint = RedisEndpoint(host: "127.0.0.1", port: server.port)
        endpoint.password = password
        return try await RedisConnection.connect(to: endpoint, settings: RedisConnectionSettings(), on: MultiThreadedEventLoopGroup.singleton)
    }

    private func context(_ board: DependencyBoard, pipeline: String = "relay") -> StageContext {
        var resources = StageResources()
        resources[DependencyBoard.self] = board
        return StageContext(pipeline: pipeline, instance: "test", logger: Logger(label: "redis.test"), resources: resources)
    }

    private func sink(_ yaml: String, board: DependencyBoard = DependencyBoard()) throws -> RedisSink {
        let (configuration, problems) = readConfiguration(RedisSink.Configuration.self, yaml: "url: \(server.url)\n" + yaml, stageType: "redis")
        XCTAssertEqual(problems, [])
        return try RedisSink(configuration: configuration, context: context(board, pipeline: "producer"))
    }

    private func source(_ yaml: String, board: DependencyBoard = DependencyBoard()) throws -> RedisSource {
        let (configuration, context) = sourceSettings(yaml, board: board)
        return try RedisSource(configuration: configuration, context: context)
    }

    /// What makes a source, for a task that makes its own.
    private func sourceSettings(_ yaml: String, board: DependencyBoard = DependencyBoard()) -> (RedisSource.Configuration, StageContext) {
        let (configuration, problems) = readConfiguration(RedisSource.Configuration.self, yaml: "url: \(server.url)\nblock_ms: 200\n" + yaml, stageType: "redis_source")
        XCTAssertEqual(problems, [])
        return (configuration, context(board))
    }

    private func frame(_ sequence: Int) -> Frame {
        Frame(type: "tick", timestamp: 1_700_000_000_000 + Double(sequence), payload: ["count": .int(sequence)], sequence: sequence)
    }

    /// Polls until `condition` holds; fails after `seconds` (a bound on a hang, not a timing assertion).
    private func eventually(_ what: String, seconds: Double = 20, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("never: \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func testCommandsAndTheirReplies() async throws {
        let connection = try await connect()
        defer { connection.close() }
        let pong = try await connection.request(RESPCommand("PING"))
        XCTAssertEqual(pong, .simpleString("PONG"))
        let set = try await connection.request(RESPCommand("SET", "k", "v\r\nw"))
        XCTAssertEqual(set, .simpleString("OK"))
        let value = try await connection.request(RESPCommand("GET", "k"))
        XCTAssertEqual(value, .bulkString(Array("v\r\nw".utf8)))
        let missing = try await connection.request(RESPCommand("GET", "missing"))
        XCTAssertEqual(missing, .bulkString(nil))
        // Pipelined: replies come back in the order the commands went.
        let futures = (0..<100).map { _ in connection.send(RESPCommand("INCR", "n")) }
        var replies: [RESPValue] = []
        for future in futures { replies.append(try await future.get()) }
        XCTAssertEqual(replies, (1...100).map { .integer($0) })
        do {
            _ = try await connection.request(RESPCommand("NOSUCHCOMMAND"))
            XCTFail("an unknown command is refused")
        } catch let error as RedisServerError {
            XCTAssertEqual(error.command, "NOSUCHCOMMAND")
            XCTAssertTrue(error.message.hasPrefix("ERR unknown command"), error.message)
        }
    }

    func testAPasswordIsSentAndAWrongOneIsRefused() async throws {
        server.stop()
        server = try await RedisServerProcess.start(password: "s3cret")
        let connection = try await connect(password: "s3cret")
        let pong = try await connection.request(RESPCommand("PING"))
        XCTAssertEqual(pong, .simpleString("PONG"))
        connection.close()
        do {
            _ = try await connect(password: "wrong")
            XCTFail("a wrong password is refused")
        } catch let error as RedisServerError {
            XCTAssertEqual(error.command, "AUTH")
            XCTAssertTrue(error.message.contains("WRONGPASS") || error.message.contains("invalid"), error.message)
        }
    }

    func testTheSinkAppendsFramesAndTheSourceReadsThemWithTheirSequence() async throws {
        var sink = try sink("stream: frames\nmax_len: 1000")
        for sequence in 5..<25 { try await sink.consume(frame(sequence)) }
        await sink.finish(.complete)
        XCTAssertEqual(try server.cli(["XLEN", "frames"]).trimmingCharacters(in: .whitespacesAndNewlines), "20")

        var source = try source("stream: frames\nstart: \"0\"")
        var read: [Frame] = []
        for _ in 0..<20 {
            guard let next = try await source.next() else { break }
            read.append(next)
        }
        XCTAssertEqual(read.map(\.sequence), Array(5..<25))
        XCTAssertEqual(read.map(\.payload["count"]), (5..<25).map { .int($0) })
        XCTAssertEqual(Set(read.compactMap(\.epoch)), [sink.producingEpoch])
        XCTAssertEqual(read.first?.timestamp, 1_700_000_000_005)
    }

    /// The source's connection is killed while the producer goes on: it reconnects and
    /// reads on from its last entry, so no frame is missing.
    func testTheSourceResumesAfterItsLastEntry() async throws {
        let board = DependencyBoard()
        var sink = try sink("stream: frames")
        let (configuration, context) = sourceSettings("stream: frames", board: board)
        let reading = Task {
            var source = try RedisSource(configuration: configuration, context: context)
            var sequences: [Int] = []
            while sequences.count < 60, let frame = try await source.next() {
                sequences.append(frame.sequence)
            }
            return sequences
        }
        // The source starts at the newest entry: wait until it has connected.
        try await eventually("the source connects") { try server.cli(["CLIENT", "LIST"]).contains("cmd=xread") }
        for sequence in 0..<30 { try await sink.consume(frame(sequence)) }
        try await eventually("the first frames are written") { try server.cli(["XLEN", "frames"]).hasPrefix("30") }
        // Only the reader's connection: the producer's stays.
        let reader = try server.cli(["CLIENT", "LIST"]).split(separator: "\n").first { $0.contains("cmd=xread") }
        let id = reader?.split(separator: " ").first { $0.hasPrefix("id=") }?.dropFirst(3)
        XCTAssertEqual(try server.cli(["CLIENT", "KILL", "ID", String(id ?? "")]).trimmingCharacters(in: .whitespacesAndNewlines), "1")
        for sequence in 30..<60 { try await sink.consume(frame(sequence)) }
        let sequences = try await reading.value
        await sink.finish(.complete)
        XCTAssertEqual(sequences, Array(0..<60))
        let counts = board.snapshot().first { $0.key.pipeline == "relay" }?.entry.counts ?? [:]
        XCTAssertEqual(counts["frames_missed"], nil)
    }

    /// With Redis down, the sink keeps `buffer` frames and counts the rest as dropped;
    /// the board says Redis is down, then up; the source sees the dropped frames as a
    /// counted gap.
    func testWhileRedisIsDownTheSinkBuffersDropsAndCounts() async throws {
        let producerBoard = DependencyBoard()
        let edgeBoard = DependencyBoard()
        var sink = try sink("stream: frames\nbuffer: 10", board: producerBoard)
        var source = try source("stream: frames\nstart: \"0\"", board: edgeBoard)
        try await sink.consume(frame(0))
        try await eventually("frame 0 is written") { try server.cli(["XLEN", "frames"]).hasPrefix("1") }
        let first = try await source.next()
        XCTAssertEqual(first?.sequence, 0)

        server.stop()
        try await eventually("the producer sees Redis down") { !producerBoard.downDependencies.isEmpty }
        for sequence in 1...40 { try await sink.consume(frame(sequence)) }
        let counts = await sink.counts
        XCTAssertEqual(counts.dropped, 30)
        try await server.restart()
        try await eventually("the producer reconnects") { producerBoard.downDependencies.isEmpty }
        try await eventually("the buffered frames are written") { try server.cli(["XLEN", "frames"]).hasPrefix("10") }

        var sequences: [Int] = []
        while sequences.count < 10, let next = try await source.next() {
            sequences.append(next.sequence)
        }
        XCTAssertEqual(sequences, Array(31...40), "the newest 10 frames were kept")
        let producer = producerBoard.snapshot().first?.entry
        XCTAssertEqual(producer?.counts["frames_dropped"], 30)
        // At least once: a reconnect can reach the dying server's listener before it closes.
        XCTAssertGreaterThanOrEqual(producer?.counts["reconnects"] ?? 0, 1)
        let edge = edgeBoard.snapshot().first?.entry
        XCTAssertEqual(edge?.counts["frames_missed"], 30, "frames 1 to 30 are a counted gap")
        XCTAssertGreaterThanOrEqual(edge?.counts["reconnects"] ?? 0, 1)
        XCTAssertEqual(edge?.isDown, false)
        await sink.finish(.complete)
    }

    func testAChannelDeliversPublishedFrames() async throws {
        var sink = try sink("channel: live")
        let (configuration, context) = sourceSettings("channel: live")
        let reading = Task {
            var source = try RedisSource(configuration: configuration, context: context)
            var sequences: [Int] = []
            while sequences.count < 20, let frame = try await source.next() {
                sequences.append(frame.sequence)
            }
            return sequences
        }
        try await eventually("the source subscribes") { try server.cli(["PUBSUB", "NUMSUB", "live"]).contains("1") }
        for sequence in 0..<20 { try await sink.consume(frame(sequence)) }
        let sequences = try await reading.value
        XCTAssertEqual(sequences, Array(0..<20))
        await sink.finish(.complete)
    }

    func testEntriesThatAreNotFramesAreSkippedAndCounted() async throws {
        let board = DependencyBoard()
        _ = try server.cli(["XADD", "frames", "*", "frame", "not json"])
        _ = try server.cli(["XADD", "frames", "*", "other", "x"])
        var sink = try sink("stream: frames")
        try await sink.consume(frame(3))
        await sink.finish(.complete)
        var source = try source("stream: frames\nstart: \"0\"", board: board)
        let next = try await source.next()
        XCTAssertEqual(next?.sequence, 3)
        XCTAssertEqual(board.snapshot().first?.entry.counts["invalid_entries"], 2)
    }
}

/// `rediss://`: a real `redis-server` serving TLS only, with a certificate from a test CA.
final class RedisTLSTests: XCTestCase {
    func testRedissWithTheCAFileAndRefusedWithoutIt() async throws {
        let authority = try TestCertificateAuthority()
        let certificate = try authority.issueServerCertificate()
        let server = try await RedisServerProcess.start(tls: (certificate.certificateFile, certificate.keyFile))
        defer { server.stop() }

        let endpoint = try RedisEndpoint(url: server.url)
        XCTAssertTrue(endpoint.usesTLS)
        var settings = RedisConnectionSettings()
        settings.tls = try RedisConnectionSettings.tlsContext(caFile: authority.certificateFile)
        let connection = try await RedisConnection.connect(to: endpoint, settings: settings, on: MultiThreadedEventLoopGroup.singleton)
        let pong = try await connection.request(RESPCommand("PING"))
        XCTAssertEqual(pong, .simpleString("PONG"))
        connection.close()

        // The system's CAs do not know the test CA: the handshake fails, and says so.
        var untrusting = RedisConnectionSettings()
        untrusting.tls = try RedisConnectionSettings.tlsContext(caFile: nil)
        do {
            let refused = try await RedisConnection.connect(to: endpoint, settings: untrusting, on: MultiThreadedEventLoopGroup.singleton)
            _ = try await refused.request(RESPCommand("PING"), timeout: .seconds(10))
            XCTFail("a certificate from an unknown CA is refused")
        } catch {
            XCTAssertTrue("\(error)".contains("the connection to Redis failed") || "\(error)".contains("closed"), "\(error)")
        }

        // The stages, through the pipeline settings: url rediss:// with ca_file.
        let yaml = "url: \(server.url)\nca_file: \(authority.certificateFile)\nstream: frames\n"
        let (sinkConfiguration, sinkProblems) = readConfiguration(RedisSink.Configuration.self, yaml: yaml, stageType: "redis")
        XCTAssertEqual(sinkProblems, [])
        var sink = try RedisSink(configuration: sinkConfiguration, context: testContext())
        for sequence in 0..<3 {
            try await sink.consume(Frame(type: "tick", timestamp: 1, payload: ["n": .int(sequence)], sequence: sequence))
        }
        await sink.finish(.complete)
        let (sourceConfiguration, sourceProblems) = readConfiguration(RedisSource.Configuration.self, yaml: yaml + "start: \"0\"\n", stageType: "redis_source")
        XCTAssertEqual(sourceProblems, [])
        var source = try RedisSource(configuration: sourceConfiguration, context: testContext())
        var sequences: [Int] = []
        while sequences.count < 3, let frame = try await source.next() {
            sequences.append(frame.sequence)
        }
        XCTAssertEqual(sequences, [0, 1, 2])
    }
}
