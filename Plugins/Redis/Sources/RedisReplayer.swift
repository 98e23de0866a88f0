import HyphaeCore
import NIOCore
import Synchronization

/// The id of the last stream entry a `redis_source` has read, shared with its
/// replayer. Written once per `XREAD` answer, never per frame.
final class StreamReadPosition: Sendable {
    private let entryID = Mutex<String?>(nil)

    var current: String? { entryID.withLock { $0 } }

    func update(_ id: String) {
        entryID.withLock { $0 = id }
    }
}

/// Reads a relayed stream again for a subscriber that resumes on a host whose own
/// history does not reach back far enough (Docs/SCALING.md): walks back from the
/// entry the source has read last (`XREVRANGE`, a page at a time) to the frame after
/// the subscriber's, and hands the frames back oldest first.
///
/// It reads on one connection of its own, made when first needed and shared by the
/// replays of its source, so that many clients resuming at once make one connection.
/// Each replay is bounded by the history's frame and byte limits and by a timeout, and
/// the replays in flight together by `concurrentBytesFactor` × the byte limit: past
/// that, a replay stops short (the subscriber is told `recovered: false`) rather than
/// let a crowd of resuming clients hold copies without bound.
final class RedisReplayer: FrameReplayer {
    /// Entries per `XREVRANGE`: the answer of one page stays small.
    static let pageSize = 100
    static let concurrentBytesFactor = 4

    private let endpoint: RedisEndpoint
    private let settings: RedisConnectionSettings
    private let stream: String
    private let position: StreamReadPosition
    private let connection = Mutex<RedisConnection?>(nil)
    /// The bytes of frames the replays under way hold.
    private let bytesInFlight = Mutex(0)

    init(endpoint: RedisEndpoint, settings: RedisConnectionSettings, stream: String, position: StreamReadPosition) {
        self.endpoint = endpoint
        self.settings = settings
        self.stream = stream
        self.position = position
    }

    deinit {
        connection.withLock { $0?.close() }
    }

    func replay(after point: StreamPosition?, limits: ReplayLimits) async -> Replay {
        let deadline = ContinuousClock.now + limits.timeout
        // The source finds its starting entry when it first connects.
        var readThrough = position.current
        while readThrough == nil, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
            readThrough = position.current
        }
        guard let readThrough else { return Replay(position: nil) }
        do {
            return try await replay(after: point, through: readThrough, limits: limits, deadline: deadline)
        } catch {
            return Replay(position: nil)
        }
    }

    private func replay(after point: StreamPosition?, through newestID: String, limits: ReplayLimits, deadline: ContinuousClock.Instant) async throws -> Replay {
        let connection = try await connected(deadline: deadline)
        var walker = EntryWalker(point: point, limits: limits)
        var reserved = 0
        defer { bytesInFlight.withLock { $0 -= reserved } }
        let ceiling = limits.bytes.multipliedReportingOverflow(by: Self.concurrentBytesFactor)
        let maximumInFlight = ceiling.overflow ? Int.max : ceiling.partialValue
        var end = newestID
        pages: while true {
            let command = RESPCommand("XREVRANGE", stream, end, "-", "COUNT", String(Self.pageSize))
            let reply = try await connection.request(command, timeout: remaining(until: deadline))
            guard let entries = reply.elements else { throw RedisConnectionError("XREVRANGE answered \(reply), not an array") }
            for entry in entries {
                guard let fields = entry.elements, fields.count == 2, let id = fields[0].text else { continue }
                end = "(" + id
                guard let bytes = Self.frameBytes(in: fields[1]), let frame = try? RelayedFrame.decode(bytes) else { continue }
                let granted = bytesInFlight.withLock { held in
                    guard held + bytes.count <= maximumInFlight else { return false }
                    held += bytes.count
                    return true
                }
                guard granted else {
                    walker.stopShort()
                    break pages
                }
                reserved += bytes.count
                if walker.take(frame, bytes: bytes.count) { break pages }
            }
            if entries.count < Self.pageSize {
                walker.reachedOldest()
                break
            }
        }
        return walker.replay
    }

    private func connected(deadline: ContinuousClock.Instant) async throws -> RedisConnection {
        if let existing = connection.withLock({ $0 }), existing.isActive { return existing }
        var connectSettings = settings
        connectSettings.connectTimeout = min(settings.connectTimeout, remaining(until: deadline))
        let fresh = try await RedisConnection.connect(to: endpoint, settings: connectSettings, on: RedisEventLoops.group.next())
        // Replays that started together each connected: one connection is kept, and
        // none that another replay may be reading on is closed.
        let chosen = connection.withLock { current -> RedisConnection in
            if let current, current.isActive { return current }
            current = fresh
            return fresh
        }
        if chosen !== fresh { fresh.close() }
        return chosen
    }

    private func remaining(until deadline: ContinuousClock.Instant) -> TimeAmount {
        let left = max(.zero, deadline - ContinuousClock.now)
        let (seconds, attoseconds) = left.components
        return .nanoseconds(max(1, seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
    }

    static func frameBytes(in fields: RESPValue) -> [UInt8]? {
        guard let list = fields.elements else { return nil }
        var index = 0
        while index + 1 < list.count {
            if list[index].text == "frame", case .bulkString(let bytes?) = list[index + 1] { return bytes }
            index += 2
        }
        return nil
    }
}

/// Follows the entries of a stream from the newest back: the first one names the
/// position; the ones after the requested point are gathered until the frame right
/// after it, unless the epoch changes, a frame is missing, or a limit is passed first.
struct EntryWalker {
    private let point: StreamPosition?
    private let limits: ReplayLimits
    private(set) var position: StreamPosition?
    /// Newest first.
    private var gathered: [Frame] = []
    private var bytes = 0
    private var outcome: Outcome = .walking

    private enum Outcome {
        case walking
        case complete
        case incomplete
    }

    init(point: StreamPosition?, limits: ReplayLimits) {
        self.point = point
        self.limits = limits
    }

    /// Takes the next older frame; true when the walk is over.
    mutating func take(_ frame: Frame, bytes size: Int) -> Bool {
        guard let epoch = frame.epoch else { return false }
        guard let position else {
            position = StreamPosition(epoch: epoch, sequence: frame.sequence)
            guard let point else { return finish(.complete) }
            guard point.epoch == epoch else { return finish(.incomplete) }
            if point.sequence >= frame.sequence { return finish(.complete) }
            return gather(frame, bytes: size)
        }
        guard epoch == position.epoch, let newer = gathered.last else { return finish(.incomplete) }
        // A frame written twice (the producer's buffer, after Redis came back empty) is skipped.
        if frame.sequence >= newer.sequence { return false }
        guard frame.sequence == newer.sequence - 1 else { return finish(.incomplete) }
        return gather(frame, bytes: size)
    }

    private mutating func gather(_ frame: Frame, bytes size: Int) -> Bool {
        bytes += size
        guard gathered.count < limits.frames, bytes <= limits.bytes else { return finish(.incomplete) }
        gathered.append(frame)
        if let point, frame.sequence == point.sequence + 1 { return finish(.complete) }
        return false
    }

    /// The walk cannot go on (the replays under way hold their limit of bytes).
    mutating func stopShort() {
        if case .walking = outcome { outcome = .incomplete }
    }

    /// No older entry: the frames not reached were trimmed (or never written).
    mutating func reachedOldest() {
        if case .walking = outcome {
            outcome = position == nil ? .complete : .incomplete
        }
    }

    private mutating func finish(_ outcome: Outcome) -> Bool {
        self.outcome = outcome
        return true
    }

    var replay: Replay {
        guard let position else { return Replay(position: nil) }
        guard let point else { return Replay(position: position, frames: []) }
        switch outcome {
        case .complete:
            return Replay(position: position, frames: gathered.reversed())
        case .walking, .incomplete:
            let missed = point.epoch == position.epoch ? max(0, position.sequence - point.sequence) : nil
            return Replay(position: position, frames: nil, missed: missed)
        }
    }
}
