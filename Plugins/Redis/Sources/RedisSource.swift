import HyphaeCore
import Logging
import NIOCore

/// Reads frames a `redis` sink wrote, from a stream (`XREAD BLOCK`) or a channel
/// (`SUBSCRIBE`), with their producer's sequence, timestamp and epoch: every host that
/// relays a stream serves the same sequence numbers (Docs/SCALING.md).
///
/// When Redis goes away it reconnects with backoff and tells the host (`/ready`). On
/// a stream it resumes after the last entry it read, so entries written meanwhile are
/// not lost; what is lost all the same (a channel's messages, entries trimmed by
/// `MAXLEN`, frames the producer dropped) shows as a jump in `sequence`, which it
/// counts as `frames_missed`.
public struct RedisSource: SourceStage {
    public struct Configuration: ReplayingConfiguration {
        public var server: RedisServerSettings
        public var stream: String?
        public var channel: String?
        public var start: String
        public var blockMilliseconds: Int
        public var count: Int
        public var buffer: Int
        /// A stream keeps its entries, so they can be read again; a channel does not.
        public var offersReplay: Bool { stream != nil }

        public init(reading config: inout ConfigReader) {
            server = RedisServerSettings(reading: &config)
            stream = config.optionalString("stream", summary: "the stream key to read (XREAD), as the producer's redis sink writes it")
            channel = config.optionalString("channel", summary: "a channel to read instead (SUBSCRIBE): no catching up after a loss")
            start = config.string("start", default: "$", summary: "where a stream is read from: $ (the entries after the newest) or an entry id such as 0 or 1700000000000-0")
            blockMilliseconds = config.int("block_ms", default: 1000, min: 10, max: 60_000, summary: "how long one XREAD waits for new entries")
            count = config.int("count", default: 100, min: 1, max: 10_000, summary: "the most entries one XREAD returns")
            buffer = config.int("buffer", default: 1024, min: 1, max: 1_000_000, summary: "channel messages held for the pipeline; beyond them the oldest are dropped (and show as a gap)")
            guard !config.isDescribing else { return }
            switch (stream, channel) {
            case (nil, nil): config.problem(nil, "set stream (a Redis stream key) or channel (a pub/sub channel)")
            case (.some, .some): config.problem("channel", "set stream or channel, not both")
            default: break
            }
            if stream?.isEmpty == true { config.problem("stream", "expected a non-empty stream key") }
            if channel?.isEmpty == true { config.problem("channel", "expected a non-empty channel name") }
            if start != "$", StreamEntryID(start) == nil {
                config.problem("start", "expected $ or an entry id such as 0 or 1700000000000-0, found '\(start)'")
            }
        }
    }

    public static let stageType = "redis_source"
    public static let summary = "reads frames a redis sink wrote, from a Redis stream (XREAD, resumed after a loss) or a channel, keeping their sequence"

    private let configuration: Configuration
    private let endpoint: RedisEndpoint
    private let settings: RedisConnectionSettings
    private let health: DependencyHealth
    private let logger: Logger
    private var connection: RedisConnection?
    private var pushes: AsyncStream<RESPValue>.Iterator?
    private var backoff = Backoff()
    private var everConnected = false
    /// The last entry read; `$` until the first connection finds the newest.
    private var lastID: String
    private var pending: [Frame] = []
    private var pendingIndex = 0
    private var gaps = SequenceGaps()
    private var invalidEntries = 0
    /// The last entry read, for the replayer (a stream only).
    private let readPosition = StreamReadPosition()
    /// Where subscribers learn that Redis stopped answering, when the host lends it.
    private let flow: SourceFlow?
    /// The last frame the run before this one handed on (a reload): reading starts after its entry.
    private let continuing: StreamPosition?

    public init(configuration: Configuration, context: StageContext) throws {
        self.configuration = configuration
        let (resolvedEndpoint, resolvedSettings) = try configuration.server.resolve()
        endpoint = resolvedEndpoint
        var connectionSettings = resolvedSettings
        connectionSettings.pushCapacity = configuration.buffer
        settings = connectionSettings
        let target = configuration.stream.map { "stream \($0)" } ?? "channel \(configuration.channel ?? "")"
        let dependency = "\(endpoint) \(target)"
        health = context.resources[DependencyBoard.self]?.watch(pipeline: context.pipeline, dependency: dependency) ?? .unwatched(dependency)
        logger = context.logger
        lastID = configuration.start
        continuing = configuration.stream == nil ? nil : context.continuing
        if let continuing { gaps = SequenceGaps(after: continuing) }
        flow = context.resources[SourceFlow.self]
        if let stream = configuration.stream, let slot = context.resources[ReplaySlot.self] {
            slot.offer(RedisReplayer(endpoint: endpoint, settings: resolvedSettings, stream: stream, position: readPosition))
        }
    }

    /// What the source saw of the stream's numbering, for tests.
    public var sequenceGaps: SequenceGaps { gaps }

    public mutating func next() async throws -> Frame? {
        while true {
            try Task.checkCancellation()
            if pendingIndex < pending.count {
                pendingIndex += 1
                return pending[pendingIndex - 1]
            }
            pending.removeAll(keepingCapacity: true)
            pendingIndex = 0
            do {
                let connection = try await connected()
                if configuration.stream != nil {
                    try await readStream(on: connection)
                } else {
                    try await readChannel()
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                try Task.checkCancellation()
                try await recover(from: error)
            }
        }
    }

    // MARK: Connecting

    private mutating func connected() async throws -> RedisConnection {
        if let connection, connection.isActive { return connection }
        connection?.close()
        connection = nil
        pushes = nil
        let fresh = try await RedisConnection.connect(to: endpoint, settings: settings, on: RedisEventLoops.group.next())
        do {
            if let stream = configuration.stream {
                if lastID == "$" { lastID = try await startingID(in: stream, on: fresh) }
                readPosition.update(lastID)
            } else if let channel = configuration.channel {
                _ = try await fresh.request(RESPCommand("SUBSCRIBE", channel), timeout: settings.connectTimeout)
                pushes = fresh.pushes.makeAsyncIterator()
            }
        } catch {
            fresh.close()
            throw error
        }
        connection = fresh
        health.up()
        flow?.flowing()
        backoff.reset()
        if everConnected {
            health.count("reconnects")
            logger.info("reconnected to Redis", metadata: ["event": "redis_reconnected", "redis": "\(endpoint)", "resume_after": "\(lastID)"])
        }
        everConnected = true
        return fresh
    }

    /// Where a `start: $` run reads from: after the entry of the frame its predecessor
    /// handed on last (a reload), when it is among the newest `count` entries, so that
    /// the reload loses no frame; otherwise after the newest entry (and the frames in
    /// between show as a counted gap).
    private func startingID(in stream: String, on connection: RedisConnection) async throws -> String {
        guard let continuing else { return try await newestID(of: stream, on: connection) }
        let reply = try await connection.request(RESPCommand("XREVRANGE", stream, "+", "-", "COUNT", String(configuration.count)), timeout: settings.connectTimeout)
        guard let entries = reply.elements else { throw RedisConnectionError("XREVRANGE answered \(reply), not an array") }
        var newest: String?
        for entry in entries {
            guard let fields = entry.elements, fields.count == 2, let id = fields[0].text else { continue }
            if newest == nil { newest = id }
            guard let bytes = RedisReplayer.frameBytes(in: fields[1]), let frame = try? RelayedFrame.decode(bytes) else { continue }
            if frame.epoch == continuing.epoch, frame.sequence <= continuing.sequence { return id }
        }
        return newest ?? "0-0"
    }

    /// The id of the stream's newest entry, so that a later reconnect resumes from a
    /// fixed point rather than from whatever is newest then.
    private func newestID(of stream: String, on connection: RedisConnection) async throws -> String {
        let reply = try await connection.request(RESPCommand("XREVRANGE", stream, "+", "-", "COUNT", "1"), timeout: settings.connectTimeout)
        guard let entries = reply.elements else { throw RedisConnectionError("XREVRANGE answered \(reply), not an array") }
        guard let newest = entries.first?.elements?.first?.text else { return "0-0" }
        return newest
    }

    private mutating func recover(from error: any Error) async throws {
        connection?.close()
        connection = nil
        pushes = nil
        health.down("\(error)")
        flow?.stalled("Redis at \(endpoint) does not answer: \(error)")
        let wait = backoff.nextWait()
        if backoff.failures == 1 || backoff.failures.isMultiple(of: 50) {
            logger.warning("cannot read from Redis", metadata: ["event": "redis_unreachable", "redis": "\(endpoint)", "error": "\(error)", "attempts": "\(backoff.failures)"])
        }
        try await Task.sleep(for: wait)
    }

    // MARK: Reading

    private mutating func readStream(on connection: RedisConnection) async throws {
        guard let stream = configuration.stream else { return }
        let command = RESPCommand("XREAD", "COUNT", String(configuration.count), "BLOCK", String(configuration.blockMilliseconds), "STREAMS", stream, lastID)
        let timeout = TimeAmount.milliseconds(Int64(configuration.blockMilliseconds)) + settings.connectTimeout
        let future = connection.send(command, timeout: timeout)
        let reply = try await withTaskCancellationHandler {
            try await future.get()
        } onCancel: {
            connection.close()
        }
        if case .error(let message) = reply { throw RedisServerError(command: "XREAD", message: message) }
        // A null reply: nothing new within block_ms.
        guard let streams = reply.elements else { return }
        for streamReply in streams {
            guard let parts = streamReply.elements, parts.count == 2, let entries = parts[1].elements else { continue }
            for entry in entries {
                guard let fields = entry.elements, fields.count == 2, let id = fields[0].text else {
                    invalid("an entry that is not [id, [field, value, ...]]")
                    continue
                }
                lastID = id
                accept(RedisReplayer.frameBytes(in: fields[1]), entry: id)
            }
        }
        readPosition.update(lastID)
    }

    private mutating func readChannel() async throws {
        guard var iterator = pushes else { throw RedisConnectionError.closed }
        let message = await iterator.next()
        pushes = iterator
        guard let message else {
            throw Task.isCancelled ? CancellationError() : RedisConnectionError("the subscription to \(configuration.channel ?? "") ended: the connection closed")
        }
        // ["message", channel, payload]; subscribe confirmations and others are not frames.
        guard let parts = message.elements, parts.count == 3, parts[0].text == "message", case .bulkString(let bytes?) = parts[2] else { return }
        accept(bytes, entry: "message")
    }

    private mutating func accept(_ bytes: [UInt8]?, entry: String) {
        guard let bytes else {
            invalid("entry \(entry) has no frame field")
            return
        }
        let frame: Frame
        do {
            frame = try RelayedFrame.decode(bytes)
        } catch {
            invalid("entry \(entry): \(error)")
            return
        }
        switch gaps.record(epoch: frame.epoch ?? "", sequence: frame.sequence) {
        case .next:
            break
        case .first:
            break
        case .newEpoch:
            health.count("epoch_changes")
        case .gap(let missed):
            health.count("frames_missed", missed)
            logger.warning("frames missing from the relayed stream", metadata: ["event": "redis_gap", "redis": "\(endpoint)", "missed": "\(missed)", "sequence": "\(frame.sequence)"])
        case .repeated:
            health.count("frames_repeated")
            return
        }
        pending.append(frame)
    }

    private mutating func invalid(_ what: String) {
        invalidEntries += 1
        health.count("invalid_entries")
        if invalidEntries == 1 || invalidEntries.isMultiple(of: 1000) {
            logger.warning("skipped what is not a relayed frame", metadata: ["event": "redis_invalid_entry", "redis": "\(endpoint)", "detail": "\(what.prefix(utf8Bytes: 300))", "invalid": "\(invalidEntries)"])
        }
    }
}

/// Follows a relayed stream's numbering: each frame should come right after the one before.
public struct SequenceGaps: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        case first
        case next
        /// The producer restarted (or another producer took over): numbering starts again.
        case newEpoch
        /// Frames between the last one and this one never came.
        case gap(missed: Int)
        /// The frame was already delivered; it is skipped.
        case repeated
    }

    public private(set) var epoch: String?
    public private(set) var lastSequence = -1
    public private(set) var missed = 0

    public init() {}

    /// Follows on from a stream whose last frame was `position` (a reload's predecessor).
    public init(after position: StreamPosition) {
        epoch = position.epoch
        lastSequence = position.sequence
    }

    public mutating func record(epoch: String, sequence: Int) -> Step {
        defer {
            self.epoch = epoch
        }
        guard let current = self.epoch else {
            lastSequence = sequence
            return .first
        }
        guard current == epoch else {
            lastSequence = sequence
            return .newEpoch
        }
        if sequence <= lastSequence { return .repeated }
        let skipped = sequence - lastSequence - 1
        lastSequence = sequence
        if skipped == 0 { return .next }
        missed += skipped
        return .gap(missed: skipped)
    }
}

/// A stream entry id, `milliseconds-counter` or `milliseconds`.
struct StreamEntryID {
    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 20 && $0.allSatisfy(\.isASCII) && UInt64($0) != nil }) else { return nil }
    }
}

public enum RedisPlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(RedisSink.self)
        registry.register(RedisSource.self)
    }
}
