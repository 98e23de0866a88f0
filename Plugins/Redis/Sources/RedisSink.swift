import HyphaeCore
import Logging
import NIOCore

/// Writes each frame to Redis, to a stream (`XADD key MAXLEN ~ N * frame JSON`) and/or a
/// channel (`PUBLISH`), with the producer's sequence, timestamp and epoch
/// (`RelayedFrame`), for edge hosts to relay (Docs/SCALING.md).
///
/// It never holds the pipeline back: a frame is handed to the connection's event loop
/// and the sink returns. While Redis is unreachable, frames wait in a bounded buffer
/// (`buffer` frames; the oldest go first, counted as `frames_dropped`), written in
/// order once the connection is back; the host's `/ready` names Redis as degraded.
public struct RedisSink: SinkStage {
    public struct Configuration: StageConfiguration {
        public var server: RedisServerSettings
        public var stream: String?
        public var maxLength: Int
        public var channel: String?
        public var buffer: Int
        public var maxInFlight: Int

        public init(reading config: inout ConfigReader) {
            server = RedisServerSettings(reading: &config)
            stream = config.optionalString("stream", summary: "the stream key each frame is appended to (XADD); edges read it with resume")
            maxLength = config.int("max_len", default: 10_000, min: 1, max: 100_000_000, summary: "about how many entries the stream keeps (XADD MAXLEN ~): how far back an edge can catch up")
            channel = config.optionalString("channel", summary: "a channel each frame is published to (PUBLISH): at most once, no catching up")
            buffer = config.int("buffer", default: 1000, min: 0, max: 1_000_000, summary: "frames held while Redis is unreachable; beyond them the oldest are dropped and counted")
            maxInFlight = config.int("max_in_flight", default: 256, min: 1, max: 100_000, summary: "commands sent and not yet answered; beyond them frames wait in the buffer")
            if !config.isDescribing, stream == nil, channel == nil {
                config.problem(nil, "set stream (a Redis stream key), channel (a pub/sub channel), or both")
            }
            if stream?.isEmpty == true { config.problem("stream", "expected a non-empty stream key") }
            if channel?.isEmpty == true { config.problem("channel", "expected a non-empty channel name") }
        }
    }

    public static let stageType = "redis"
    public static let summary = "appends each frame to a Redis stream (XADD) and/or publishes it (PUBLISH), for edge hosts to relay"

    private let publisher: RedisPublisher
    private var relay = RelayedFrame()
    private let epoch: String
    private let streamPrefix: [[UInt8]]?
    private let channelPrefix: [[UInt8]]?

    public init(configuration: Configuration, context: StageContext) throws {
        let (endpoint, settings) = try configuration.server.resolve()
        let target = [configuration.stream.map { "stream \($0)" }, configuration.channel.map { "channel \($0)" }].compactMap { $0 }.joined(separator: ", ")
        let dependency = "\(endpoint) \(target)"
        let health = context.resources[DependencyBoard.self]?.watch(pipeline: context.pipeline, dependency: dependency) ?? .unwatched(dependency)
        publisher = RedisPublisher(
            endpoint: endpoint, settings: settings, bufferCapacity: configuration.buffer, maxInFlight: configuration.maxInFlight,
            eventLoop: RedisEventLoops.group.next(), health: health, logger: context.logger)
        epoch = RelayedFrame.newEpoch()
        streamPrefix = configuration.stream.map { [Array("XADD".utf8), Array($0.utf8), Array("MAXLEN".utf8), Array("~".utf8), Array(String(configuration.maxLength).utf8), Array("*".utf8), Array("frame".utf8)] }
        channelPrefix = configuration.channel.map { [Array("PUBLISH".utf8), Array($0.utf8)] }
    }

    /// The name of the run whose frames this sink writes, unless they carry their own.
    public var producingEpoch: String { epoch }

    public mutating func consume(_ frame: Frame) async throws {
        let bytes = relay.encode(frame, epoch: epoch)
        var commands: [RESPCommand] = []
        commands.reserveCapacity(2)
        if var arguments = streamPrefix {
            arguments.append(bytes)
            commands.append(RESPCommand(arguments))
        }
        if var arguments = channelPrefix {
            arguments.append(bytes)
            commands.append(RESPCommand(arguments))
        }
        publisher.offer(commands)
    }

    /// Gives frames still buffered or unanswered up to 2 s to reach Redis, then closes.
    public mutating func finish(_ end: StreamEnd) async {
        await publisher.close(within: .seconds(2))
    }

    /// What happened to the frames, for tests and the bench.
    public var counts: RedisPublisher.Counts {
        get async { await publisher.counts() }
    }
}

/// The sink's connection, its reconnects and its buffer. Every member is used on
/// `eventLoop` only; the sink reaches it through `offer`, which hops there.
public final class RedisPublisher: @unchecked Sendable {
    public struct Counts: Sendable, Equatable {
        /// Frames the buffer dropped while Redis was unreachable.
        public var dropped = 0
        /// Commands Redis answered with an error.
        public var rejected = 0
        /// Commands sent but unanswered when the connection broke: written or not, nobody knows.
        public var unconfirmed = 0
        /// Commands Redis confirmed.
        public var confirmed = 0
        public var reconnects = 0
    }

    private let endpoint: RedisEndpoint
    private let settings: RedisConnectionSettings
    private let bufferCapacity: Int
    private let maxInFlight: Int
    private let eventLoop: any EventLoop
    private let health: DependencyHealth
    private let logger: Logger

    private var connection: RedisConnection?
    private var connecting = false
    /// Set while a failed attempt's backoff runs, so that frames do not hasten the next.
    private var waitingToRetry = false
    private var closed = false
    private var closing: EventLoopPromise<Void>?
    private var everConnected = false
    private var backoff = Backoff()
    private var buffer: CircularBuffer<[RESPCommand]>
    private var inFlight = 0
    private var tally = Counts()

    init(
        endpoint: RedisEndpoint, settings: RedisConnectionSettings, bufferCapacity: Int, maxInFlight: Int,
        eventLoop: any EventLoop, health: DependencyHealth, logger: Logger
    ) {
        self.endpoint = endpoint
        self.settings = settings
        self.bufferCapacity = bufferCapacity
        self.maxInFlight = maxInFlight
        self.eventLoop = eventLoop
        self.health = health
        self.logger = logger
        buffer = CircularBuffer(initialCapacity: min(max(bufferCapacity, 1), 1024))
    }

    func offer(_ commands: [RESPCommand]) {
        eventLoop.execute { self.accept(commands) }
    }

    func counts() async -> Counts {
        (try? await eventLoop.submit { self.tally }.get()) ?? Counts()
    }

    func close(within grace: TimeAmount) async {
        let done: EventLoopFuture<Void> = eventLoop.flatSubmit {
            if self.closed { return self.eventLoop.makeSucceededVoidFuture() }
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.closing = promise
            self.eventLoop.scheduleTask(in: grace) { self.shutDown() }
            self.closeIfDrained()
            return promise.futureResult
        }
        try? await done.get()
    }

    // MARK: On the event loop

    private func accept(_ commands: [RESPCommand]) {
        guard !closed else { return }
        if let connection, buffer.isEmpty, inFlight < maxInFlight {
            write(commands, on: connection)
            return
        }
        // The first frame opens the connection: a sink made only to check a pipeline
        // (a reload does that) never connects.
        connectIfNeeded()
        guard bufferCapacity > 0 else {
            dropped(1)
            return
        }
        if buffer.count >= bufferCapacity {
            buffer.removeFirst()
            dropped(1)
        }
        buffer.append(commands)
    }

    private func dropped(_ count: Int) {
        tally.dropped += count
        health.count("frames_dropped", count)
    }

    private func write(_ commands: [RESPCommand], on connection: RedisConnection) {
        for command in commands {
            inFlight += 1
            connection.send(command).hop(to: eventLoop).whenComplete { result in
                self.inFlight -= 1
                switch result {
                case .success(.error(let message)):
                    self.tally.rejected += 1
                    self.health.count("commands_rejected")
                    if self.tally.rejected == 1 || self.tally.rejected.isMultiple(of: 1000) {
                        self.logger.warning("Redis refused a frame", metadata: ["event": "redis_rejected", "redis": "\(self.endpoint)", "command": "\(command.name)", "message": "\(message)", "rejected": "\(self.tally.rejected)"])
                    }
                case .success:
                    self.tally.confirmed += 1
                case .failure:
                    self.tally.unconfirmed += 1
                    self.health.count("commands_unconfirmed")
                }
                self.drain()
            }
        }
    }

    private func drain() {
        while let connection, inFlight < maxInFlight, let commands = buffer.popFirst() {
            write(commands, on: connection)
        }
        closeIfDrained()
    }

    private func closeIfDrained() {
        guard closing != nil, buffer.isEmpty, inFlight == 0 else { return }
        shutDown()
    }

    private func shutDown() {
        guard !closed else { return }
        closed = true
        if !buffer.isEmpty {
            dropped(buffer.count)
            buffer.removeAll()
        }
        connection?.close()
        connection = nil
        health.up()
        closing?.succeed()
        closing = nil
    }

    private func connectIfNeeded() {
        guard !closed, connection == nil, !connecting, !waitingToRetry else { return }
        connecting = true
        let endpoint = self.endpoint
        let settings = self.settings
        let eventLoop = self.eventLoop
        Task {
            do {
                let connection = try await RedisConnection.connect(to: endpoint, settings: settings, on: eventLoop)
                eventLoop.execute { self.connected(connection) }
            } catch {
                eventLoop.execute { self.failedToConnect(error) }
            }
        }
    }

    private func connected(_ connection: RedisConnection) {
        connecting = false
        guard !closed else {
            connection.close()
            return
        }
        self.connection = connection
        backoff.reset()
        health.up()
        if everConnected {
            tally.reconnects += 1
            health.count("reconnects")
            logger.info("reconnected to Redis", metadata: ["event": "redis_reconnected", "redis": "\(endpoint)", "buffered": "\(buffer.count)"])
        }
        everConnected = true
        connection.closeFuture.hop(to: eventLoop).whenComplete { _ in self.lost(connection) }
        drain()
    }

    private func lost(_ lostConnection: RedisConnection) {
        guard connection === lostConnection, !closed else { return }
        connection = nil
        health.down("the connection to \(endpoint) closed")
        logger.warning("lost Redis", metadata: ["event": "redis_lost", "redis": "\(endpoint)"])
        connectIfNeeded()
    }

    private func failedToConnect(_ error: any Error) {
        connecting = false
        guard !closed else { return }
        health.down("\(error)")
        let wait = backoff.nextWait()
        if backoff.failures == 1 || backoff.failures.isMultiple(of: 50) {
            logger.warning("cannot reach Redis", metadata: ["event": "redis_unreachable", "redis": "\(endpoint)", "error": "\(error)", "attempts": "\(backoff.failures)"])
        }
        let nanoseconds = wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000
        waitingToRetry = true
        eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            self.waitingToRetry = false
            self.connectIfNeeded()
        }
    }
}
