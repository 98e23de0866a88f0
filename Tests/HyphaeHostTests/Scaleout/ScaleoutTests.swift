import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeTesting
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The relay of Docs/SCALING.md with real processes: a `redis-server`, one producer
/// (`hyphae run`: a ticker into a `redis` sink) and two edges (`hyphae serve`: a
/// `redis_source` into a `websocket` sink), each on a free loopback port.
final class ScaleoutTests: XCTestCase {
    private var redis: RedisServerProcess!
    private var producer: Process?
    private var edges: [ServeProcess] = []
    private var folders: [TemporaryFolder] = []

    override func tearDown() async throws {
        for edge in edges { edge.killIfRunning() }
        if let producer, producer.isRunning { kill(producer.processIdentifier, SIGKILL) }
        redis?.stop()
    }

    /// The producer keeps only `buffer` frames while Redis is down, so that an outage
    /// of a few seconds loses frames for the edges to count.
    /// `edgeRedisURL` points the edges elsewhere than the producer's Redis (nowhere, for a stalled start).
    private func startRelay(producerBuffer: Int = 5, producerRate: Int = 20, edgeHistoryFrames: Int = 1000, edgeRedisURL: String? = nil) async throws {
        redis = try await RedisServerProcess.start()
        let producerFolder = try TemporaryFolder()
        _ = try producerFolder.write("relay.yaml", """
            name: relay
            source:
              type: ticker
              rate: \(producerRate)
            sinks:
              - type: redis
                url: \(redis.url)
                stream: relay
                max_len: 10000
                buffer: \(producerBuffer)
            """)
        let edgeFolder = try TemporaryFolder()
        _ = try edgeFolder.write("relay.yaml", Self.edgePipeline(redisURL: edgeRedisURL ?? redis.url, historyFrames: edgeHistoryFrames, blockMilliseconds: 500))
        folders = [producerFolder, edgeFolder]

        try startProducer()
        for _ in 0..<2 {
            edges.append(try await ServeProcess.start(["--pipelines", edgeFolder.url.path], environment: ["MFN_ENV": "dev"]))
        }
    }

    private static func edgePipeline(redisURL: String, historyFrames: Int, blockMilliseconds: Int) -> String {
        """
        name: relay
        source:
          type: redis_source
          url: \(redisURL)
          stream: relay
          block_ms: \(blockMilliseconds)
        sinks:
          - type: websocket
            path: /ws/relay
            history:
              frames: \(historyFrames)
        """
    }

    private func startProducer() throws {
        let process = Process()
        process.executableURL = try HyphaeExecutable.url()
        process.arguments = ["run", "relay", "--pipelines", folders[0].url.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        producer = process
    }

    private func subscribe(to edge: ServeProcess, as streamID: String) async throws -> ProtocolClient {
        let client = try await edge.connect("/ws/relay")
        try await client.subscribeSucceeding(streamID)
        return client
    }

    /// Subscribes with the payload given (beside the stream id) and returns `subscribe_success`.
    private func subscribe(to edge: ServeProcess, as streamID: String, with payload: JSONObject) async throws -> (ProtocolClient, JSONObject) {
        let client = try await edge.connect("/ws/relay")
        var request = payload
        request["stream_id"] = .string(streamID)
        try await client.send(type: "subscribe", payload: request)
        return (client, try await client.expect("subscribe_success"))
    }

    /// The next data frames' sequences and counts, skipping heartbeats.
    private func frames(_ count: Int, from client: ProtocolClient) async throws -> [(sequence: Int, count: Int, timestamp: Double)] {
        var notices: [(state: String, sequence: Int)] = []
        return try await frames(count, from: client, notices: &notices)
    }

    /// As `frames(_:from:)`, keeping the `stream_status` notices met on the way.
    private func frames(
        _ count: Int, from client: ProtocolClient, notices: inout [(state: String, sequence: Int)]
    ) async throws -> [(sequence: Int, count: Int, timestamp: Double)] {
        var frames: [(sequence: Int, count: Int, timestamp: Double)] = []
        while frames.count < count {
            let message = try await client.nextMessage(timeout: .seconds(30))
            if message.type == "stream_status" {
                notices.append((message.payload["state"]?.stringValue ?? "", message.int("sequence") ?? -2))
                continue
            }
            guard message.type == "tick", let sequence = message.sequence, let value = message.int("count") else {
                XCTAssertNotEqual(message.type, "stream_end", message.text)
                XCTAssertNotEqual(message.type, "error", message.text)
                continue
            }
            frames.append((sequence, value, message["timestamp"]?.numberValue ?? 0))
        }
        return frames
    }

    private func metric(_ edge: ServeProcess, event: String) async throws -> Int {
        let reply = try await HTTPReply.get(host: "127.0.0.1", port: edge.port, path: "/metrics")
        let line = reply.body.split(separator: "\n").first { $0.hasPrefix("hyphae_dependency_events_total{") && $0.contains("event=\"\(event)\"") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
    }

    /// The epoch of the stream's newest entry, as the producer wrote it; waits for the first.
    private func newestEpochInRedis() async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let newest = try redis.cli(["XREVRANGE", "relay", "+", "-", "COUNT", "1"])
            if let marker = newest.range(of: "{\"epoch\":\"") {
                return String(newest[marker.upperBound...].prefix { $0 != "\"" })
            }
            guard ContinuousClock.now < deadline else { throw ExpectationFailure("the producer wrote nothing to Redis within 30 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Jumps in a run of sequence numbers: how many numbers never came.
    private func missing(in sequences: [Int]) -> Int {
        zip(sequences, sequences.dropFirst()).reduce(0) { $0 + max(0, $1.1 - $1.0 - 1) }
    }

    func testTwoEdgesServeTheProducersSequence() async throws {
        try await startRelay()
        // Give the producer time to write its first entries, so that each edge's new
        // instance finds the producer's epoch in Redis.
        let producerEpoch = try await newestEpochInRedis()
        let (first, firstSuccess) = try await subscribe(to: edges[0], as: "a", with: [:])
        let (second, secondSuccess) = try await subscribe(to: edges[1], as: "b", with: [:])
        let epoch = try XCTUnwrap(firstSuccess.payload["epoch"]?.stringValue, firstSuccess.text)
        XCTAssertEqual(epoch, producerEpoch, "the producer's run, not the edge's: \(firstSuccess.text)")
        XCTAssertEqual(secondSuccess.payload["epoch"]?.stringValue, epoch, "both edges name the producer's run, not their own")
        XCTAssertGreaterThanOrEqual(firstSuccess.int("sequence") ?? -1, 0, "the producer's latest sequence: \(firstSuccess.text)")
        let fromFirst = try await frames(60, from: first)
        let fromSecond = try await frames(60, from: second)
        XCTAssertEqual(missing(in: fromFirst.map(\.sequence)), 0)
        XCTAssertEqual(missing(in: fromSecond.map(\.sequence)), 0)
        XCTAssertEqual(fromFirst.map(\.sequence), fromFirst.map { $0.count - 1 }, "the producer's sequence, not the edge's: the ticker counts from 1 as the producer numbers from 0")
        let bySequence = Dictionary(uniqueKeysWithValues: fromFirst.map { ($0.sequence, $0) })
        let shared = fromSecond.filter { bySequence[$0.sequence] != nil }
        XCTAssertGreaterThan(shared.count, 30, "both edges served the same stretch of the stream")
        for frame in shared {
            XCTAssertEqual(bySequence[frame.sequence]?.count, frame.count, "sequence \(frame.sequence)")
            XCTAssertEqual(bySequence[frame.sequence]?.timestamp, frame.timestamp, "the producer's timestamp, sequence \(frame.sequence)")
        }
        await first.disconnect()
        await second.disconnect()
    }

    /// An edge dies (SIGKILL) under its client, which resumes on the other edge with
    /// `since`. That edge ran no instance of the stream, so its history is empty: it
    /// reads the frames the client missed back from Redis. Across both edges the client
    /// has every frame once, in order.
    func testAClientResumesOnAnotherEdgeWithNoGapWhenItsEdgeDies() async throws {
        try await startRelay()
        _ = try await newestEpochInRedis()
        let (client, success) = try await subscribe(to: edges[0], as: "a", with: [:])
        let epoch = try XCTUnwrap(success.payload["epoch"]?.stringValue, success.text)
        var seen = try await frames(20, from: client).map(\.sequence)
        kill(edges[0].process.processIdentifier, SIGKILL)
        // Whatever was on its way before the connection broke.
        while let message = try? await client.nextMessage(timeout: .seconds(5)) {
            if message.type == "tick", let sequence = message.sequence { seen.append(sequence) }
        }
        let last = try XCTUnwrap(seen.last)
        // The stream goes on without the client (20 frames a second): the frames after
        // `last` are in Redis only, until it resumes.
        try await Task.sleep(for: .seconds(1))

        let (resumed, reply) = try await subscribe(to: edges[1], as: "a", with: ["since": ["epoch": .string(epoch), "sequence": .int(last)]])
        XCTAssertEqual(reply.payload["recovered"], .bool(true), reply.text)
        XCTAssertEqual(reply.payload["epoch"]?.stringValue, epoch, "one producer, one epoch on every edge")
        XCTAssertNil(reply.payload["missed"], reply.text)
        let latest = try XCTUnwrap(reply.int("sequence"))
        XCTAssertGreaterThan(latest - last, 5, "frames passed while the client was away, and came from Redis: \(reply.text)")
        seen += try await frames(latest - last + 20, from: resumed).map(\.sequence)
        XCTAssertEqual(seen, Array(seen[0]..<(seen[0] + seen.count)), "no gap and no duplicate across both edges")

        // More clients of the dead edge resume at once, from the same point: the frames
        // after it are older than anything edge B holds, so each one is read from Redis.
        let port = edges[1].port
        let storm = try await withThrowingTaskGroup(of: [Int].self) { group in
            for index in 0..<8 {
                group.addTask {
                    let client = try await ProtocolClient.connect(host: "127.0.0.1", port: port, path: "/ws/relay")
                    try await client.send(type: "subscribe", payload: ["stream_id": .string("s\(index)"), "since": ["epoch": .string(epoch), "sequence": .int(last)]])
                    let reply = try await client.expect("subscribe_success")
                    guard reply.payload["recovered"] == .bool(true), let latest = reply.int("sequence") else {
                        throw ExpectationFailure("not recovered: \(reply.text)")
                    }
                    var sequences: [Int] = []
                    while sequences.count < latest - last + 5 {
                        let message = try await client.nextMessage(timeout: .seconds(30))
                        if message.type == "tick", let sequence = message.sequence { sequences.append(sequence) }
                    }
                    await client.disconnect()
                    return sequences
                }
            }
            return try await group.reduce(into: [[Int]]()) { $0.append($1) }
        }
        XCTAssertEqual(storm.count, 8)
        for sequences in storm {
            XCTAssertEqual(sequences, Array((last + 1)..<(last + 1 + sequences.count)), "every frame after since, once, in order")
        }
        await resumed.disconnect()
    }

    /// A client resuming from further back than the history's bounds reach is told how
    /// many frames it missed, and gets live ones.
    func testAResumeBeyondTheHistoryIsNotRecoveredAndCounted() async throws {
        try await startRelay(edgeHistoryFrames: 10)
        let epoch = try await newestEpochInRedis()
        // Let more than 10 frames pass in Redis.
        while Int(try redis.cli(["XLEN", "relay"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 < 30 {
            try await Task.sleep(for: .milliseconds(50))
        }
        let (client, reply) = try await subscribe(to: edges[1], as: "a", with: ["since": ["epoch": .string(epoch), "sequence": .int(0)]])
        XCTAssertEqual(reply.payload["recovered"], .bool(false), reply.text)
        let latest = try XCTUnwrap(reply.int("sequence"))
        XCTAssertEqual(reply.int("missed"), latest, "every frame after 0 up to the latest: \(reply.text)")
        let live = try await frames(5, from: client).map(\.sequence)
        XCTAssertEqual(live, Array((latest + 1)...(latest + 5)), reply.text)
        await client.disconnect()
    }

    /// The edge's pipeline file changes under a client: the new version's source reads
    /// on after the last frame the old one handed on, so the client's sequence goes on
    /// across `stream_reloaded` with no gap and no duplicate, and nothing is counted missed.
    func testAnEdgeReloadLosesNoFrame() async throws {
        // 500 frames a second: a source that started from the newest entry after the
        // reload would skip those written while the old one stopped and the new one started.
        try await startRelay(producerRate: 500)
        _ = try await newestEpochInRedis()
        let client = try await subscribe(to: edges[0], as: "a")
        var seen = try await frames(10, from: client).map(\.sequence)
        _ = try folders[1].write("relay.yaml", Self.edgePipeline(redisURL: redis.url, historyFrames: 1000, blockMilliseconds: 400))
        var reloadedAfter: Int?
        while reloadedAfter == nil || seen.count < (reloadedAfter ?? 0) + 200 {
            let message = try await client.nextMessage(timeout: .seconds(30))
            XCTAssertNotEqual(message.type, "stream_end", message.text)
            if message.type == "stream_reloaded" { reloadedAfter = seen.count }
            if message.type == "tick", let sequence = message.sequence { seen.append(sequence) }
        }
        XCTAssertEqual(seen, Array(seen[0]..<(seen[0] + seen.count)), "no gap and no duplicate across the reload")
        let missed = try await metric(edges[0], event: "frames_missed")
        XCTAssertEqual(missed, 0)
        await client.disconnect()
    }

    /// Redis stops for 3 s: the edges keep their clients, say they are degraded, and
    /// once Redis is back the frames flow again; the frames lost meanwhile are a gap
    /// in every client's sequence, and each edge counted exactly that gap. The client
    /// that asked for `stream_status` is told the stream stalled, then that it flows
    /// again, in order with its frames; the one that did not (as the shared contract
    /// knows no such message) is sent none.
    func testARedisOutageIsACountedGapAndTheClientsStay() async throws {
        try await startRelay()
        let clients = [
            try await subscribe(to: edges[0], as: "a", with: ["stream_status": true]).0,
            try await subscribe(to: edges[1], as: "b"),
        ]
        var notices: [[(state: String, sequence: Int)]] = [[], []]
        var sequences: [[Int]] = []
        for client in clients {
            sequences.append(try await frames(10, from: client).map(\.sequence))
        }

        redis.stop()
        for edge in edges {
            var ready = try await HTTPReply.get(host: "127.0.0.1", port: edge.port, path: "/ready")
            let deadline = ContinuousClock.now + .seconds(20)
            while !ready.body.contains("\"degraded\""), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                ready = try await HTTPReply.get(host: "127.0.0.1", port: edge.port, path: "/ready")
            }
            XCTAssertEqual(ready.status, 200, "a degraded edge keeps serving")
            XCTAssertTrue(ready.body.contains("\"degraded\"") && ready.body.contains("redis://127.0.0.1:\(redis.port) stream relay"), ready.body)
        }
        // A client that joins during the outage is told at once.
        let (latecomer, _) = try await subscribe(to: edges[1], as: "late", with: ["stream_status": true])
        let told = try await latecomer.nextMessage(timeout: .seconds(30))
        XCTAssertEqual(told.type, "stream_status", told.text)
        XCTAssertEqual(told.payload["state"]?.stringValue, "stalled", told.text)
        try await Task.sleep(for: .seconds(3))
        try await redis.restart()

        // Frames flow again on the same connections; read past the outage.
        for (index, client) in clients.enumerated() {
            let after = try await frames(40, from: client, notices: &notices[index]).map(\.sequence)
            sequences[index] += after
            XCTAssertTrue(client.isActive)
        }
        // The last frame before the jump is where the stream stalled.
        let beforeGap = zip(sequences[0], sequences[0].dropFirst()).first { $0.1 != $0.0 + 1 }?.0
        XCTAssertEqual(notices[0].map(\.state), ["stalled", "flowing"], "\(notices[0])")
        XCTAssertEqual(notices[0].map(\.sequence), [beforeGap, beforeGap].compactMap { $0 }, "each notice names the last frame before it")
        XCTAssertTrue(notices[1].isEmpty, "no stream_status for a client that did not ask: \(notices[1])")
        var latecomerNotices: [(state: String, sequence: Int)] = []
        _ = try await frames(5, from: latecomer, notices: &latecomerNotices)
        XCTAssertEqual(latecomerNotices.map(\.state), ["flowing"], "\(latecomerNotices)")
        await latecomer.disconnect()
        for (index, edge) in edges.enumerated() {
            let seen = missing(in: sequences[index])
            XCTAssertGreaterThan(seen, 0, "the producer kept 5 of about 60 frames: the rest are lost")
            let counted = try await metric(edge, event: "frames_missed")
            XCTAssertEqual(counted, seen, "edge \(index) counted the gap its client saw")
            let reconnects = try await metric(edge, event: "reconnects")
            XCTAssertGreaterThanOrEqual(reconnects, 1)
            let ready = try await HTTPReply.get(host: "127.0.0.1", port: edge.port, path: "/ready")
            XCTAssertTrue(ready.body.contains("\"ready\""), ready.body)
        }
        XCTAssertEqual(missing(in: sequences[0]), missing(in: sequences[1]), "both edges lost the same frames")
        for client in clients { await client.disconnect() }
    }

    /// A subscriber told `stalled` whose pipeline is reloaded onto a source that reads at
    /// once (here: the edge pointed at no Redis, then at the producer's) is told `flowing`
    /// once the new source reads, not left believing the stream stalled; a reload onto a
    /// source that is stalled too tells it nothing new.
    func testAReloadOntoAFlowingSourceTellsAStalledSubscriberItFlows() async throws {
        let nowhere = "redis://127.0.0.1:\(try LoopbackPort.free())"
        try await startRelay(edgeRedisURL: nowhere)
        let (client, _) = try await subscribe(to: edges[0], as: "a", with: ["stream_status": true])
        let told = try await client.nextMessage(timeout: .seconds(30))
        XCTAssertEqual(told.type, "stream_status", told.text)
        XCTAssertEqual(told.payload["state"]?.stringValue, "stalled", told.text)

        var types: [String] = []
        var notices: [String] = []
        _ = try folders[1].write("relay.yaml", Self.edgePipeline(redisURL: nowhere, historyFrames: 1000, blockMilliseconds: 400))
        while types.last != "stream_reloaded" {
            let message = try await client.nextMessage(timeout: .seconds(30))
            XCTAssertNotEqual(message.type, "stream_end", message.text)
            types.append(message.type ?? "")
            if message.type == "stream_status" { notices.append(message.payload["state"]?.stringValue ?? "") }
        }

        _ = try folders[1].write("relay.yaml", Self.edgePipeline(redisURL: redis.url, historyFrames: 1000, blockMilliseconds: 500))
        while types.filter({ $0 == "tick" }).count < 10 {
            let message = try await client.nextMessage(timeout: .seconds(30))
            XCTAssertNotEqual(message.type, "stream_end", message.text)
            types.append(message.type ?? "")
            if message.type == "stream_status" { notices.append(message.payload["state"]?.stringValue ?? "") }
        }
        XCTAssertEqual(notices, ["flowing"], "\(types)")
        XCTAssertEqual(types.filter { $0 == "stream_reloaded" }.count, 2, "\(types)")
        XCTAssertLessThan(types.lastIndex(of: "stream_reloaded") ?? .max, types.firstIndex(of: "tick") ?? 0, "\(types)")
        await client.disconnect()
    }

    /// The producer restarts: a new run, numbered from 0 again under a new epoch; the
    /// edges go on serving it to the same clients and count the change.
    func testAProducerRestartIsANewEpoch() async throws {
        try await startRelay()
        let client = try await subscribe(to: edges[0], as: "a")
        let before = try await frames(10, from: client).map(\.sequence)
        if let producer {
            producer.terminate()
            producer.waitUntilExit()
        }
        try startProducer()
        // Frames of the old run up to its last, then the new run's from 0.
        var last = before.last ?? 0
        var newRun: [Int] = []
        for _ in 0..<400 where newRun.count < 5 {
            let sequence = try await frames(1, from: client)[0].sequence
            if !newRun.isEmpty || sequence < last { newRun.append(sequence) }
            last = sequence
        }
        XCTAssertEqual(newRun, [0, 1, 2, 3, 4], "the new run numbers from 0, and the edge serves it from its first frame")
        XCTAssertTrue(client.isActive)
        let changes = try await metric(edges[0], event: "epoch_changes")
        XCTAssertEqual(changes, 1)
        await client.disconnect()
    }
}
