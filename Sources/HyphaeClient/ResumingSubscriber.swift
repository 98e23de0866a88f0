import HyphaeCore
import HyphaeProtocol
import NIOCore

/// Where a host serves WebSocket clients: `ws://host:port/path`, or `wss://` with `tls`.
public struct HostEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var path: String
    public var isSecure: Bool

    public init(host: String, port: Int, path: String, isSecure: Bool = false) {
        self.host = host
        self.port = port
        self.path = path
        self.isSecure = isSecure
    }

    public var description: String { "\(isSecure ? "wss" : "ws")://\(host):\(port)\(path)" }
}

/// How a subscriber comes back after its connection is lost: the wait doubles from
/// `initialDelay` up to `maxDelay` between attempts. The first attempt goes back to the
/// endpoint it lost (its host holds the history to resume from) unless that host said
/// it was going away; each later attempt tries the next endpoint.
public struct ReconnectPolicy: Sendable, Equatable {
    public var initialDelay: Duration
    public var maxDelay: Duration
    /// Attempts in a row before giving up; 0 never reconnects.
    public var maxAttempts: Int

    public init(initialDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(5), maxAttempts: Int = 10) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
    }

    /// The wait before attempt `attempt` (1 for the first after a loss).
    func delay(beforeAttempt attempt: Int) -> Duration {
        var delay = initialDelay
        for _ in 1..<max(1, attempt) where delay < maxDelay { delay *= 2 }
        return min(delay, maxDelay)
    }
}

/// What a resuming subscriber hands its reader.
public enum SubscriberEvent: Sendable, Equatable {
    /// A message from the host: replies, data frames, heartbeats (already answered), notices.
    case message(JSONObject, text: String)
    /// The connection was lost (`reason`) and a new one to `endpoint` has subscribed again.
    case reconnected(to: HostEndpoint, attempt: Int, reason: String)
}

/// One subscription that survives its connection: it remembers the epoch and the last
/// sequence it received and, when the connection drops, the host closes it or the host
/// shuts down, connects again (to the same endpoint first unless its host is shutting
/// down, then to the next after each failure, waiting longer each time) and subscribes
/// with `since`, so that the host sends what it missed
/// (PROTOCOL.md, Resume). Frames it has already had are never handed on twice.
///
/// Read it from one task: `next()` drives the connection.
public final class ResumingSubscriber {
    public let endpoints: [HostEndpoint]
    public let streamID: String
    private let pipeline: String?
    private let params: JSONObject
    private let tls: ClientTLS?
    private let apiKey: String?
    private let policy: ReconnectPolicy

    private var client: ProtocolClient?
    private var endpointIndex = 0
    /// The run the subscription reads, and the last frame of it handed on.
    public private(set) var epoch: String?
    public private(set) var lastSequence: Int?
    private var isEnded = false
    /// The lost connection to report before the next attempt.
    private var pendingLoss: String?
    /// The host of the lost connection said it was going away (`server_shutdown`, 1001):
    /// its history goes with it, so the next endpoint is tried first.
    private var hostIsLeaving = false
    private var attempt = 0

    public init(
        endpoints: [HostEndpoint], streamID: String, pipeline: String?, params: JSONObject = [:],
        tls: ClientTLS? = nil, apiKey: String? = nil, policy: ReconnectPolicy = ReconnectPolicy()
    ) {
        precondition(!endpoints.isEmpty, "a subscriber needs at least one endpoint")
        self.endpoints = endpoints
        self.streamID = streamID
        self.pipeline = pipeline
        self.params = params
        self.tls = tls
        self.apiKey = apiKey
        self.policy = policy
    }

    /// The endpoint of the current (or next) connection.
    public var endpoint: HostEndpoint { endpoints[endpointIndex] }

    /// Connects to the first endpoint that answers, trying each once, and subscribes.
    /// Throws what the last one failed with when none does.
    public func start() async throws {
        var lastError: (any Error)?
        for _ in endpoints {
            do {
                try await connect()
                return
            } catch let error as SubscriberRefusal {
                throw error
            } catch {
                lastError = error
                endpointIndex = (endpointIndex + 1) % endpoints.count
            }
        }
        throw lastError ?? ClientError("no endpoint to connect to")
    }

    /// The next event; after the stream's end (`stream_end` other than a shutdown,
    /// or `subscribe_failed`) nothing more comes and this throws.
    public func next(timeout: Duration = .seconds(3600)) async throws -> SubscriberEvent {
        while true {
            guard !isEnded else { throw ClientError("the subscription '\(streamID)' has ended") }
            if let reason = pendingLoss {
                pendingLoss = nil
                return try await reconnect(after: reason)
            }
            guard let client else {
                try await start()
                continue
            }
            let event: ClientEvent
            do {
                event = try await client.next(timeout: timeout)
            } catch {
                await lose("no message within \(timeout): \(error)")
                continue
            }
            switch event {
            case .message(let value, let text):
                guard let message = value?.objectValue else {
                    throw ClientError("\(endpoint) sent something that is not a protocol message: \(text.prefix(utf8Bytes: 200))")
                }
                if let handedOn = try await take(message, text: text) { return handedOn }
            case .closeFrame(let code, let reason):
                if code == CloseCode.goingAway.rawValue { hostIsLeaving = true }
                await lose("the host closed the connection with \(code)\(reason.isEmpty ? "" : " (\(reason))")")
            case .disconnected:
                await lose("the connection dropped")
            }
        }
    }

    /// Closes the connection as a client should; no reconnection follows.
    public func close() async {
        isEnded = true
        guard let client else { return }
        try? await client.send(.close)
        await client.disconnect()
        self.client = nil
    }

    // MARK: Messages

    /// Keeps the position a message gives and answers heartbeats; returns the event to hand on, if any.
    private func take(_ message: JSONObject, text: String) async throws -> SubscriberEvent? {
        let type = MessageType(message["type"]?.stringValue ?? "")
        let payload = message["payload"]?.objectValue
        switch type {
        case .heartbeat:
            try? await client?.send(.pong)
        case .subscribeSuccess where message["stream_id"]?.stringValue == streamID:
            attempt = 0
            let recovered = payload?["recovered"]?.boolValue == true
            if let epoch = payload?["epoch"]?.stringValue { self.epoch = epoch }
            // Unless recovered, live frames follow the stream's latest sequence; nothing before it will come.
            if !recovered, let latest = payload?["sequence"]?.numberValue { lastSequence = Int(latest) }
        case .subscribeFailed:
            isEnded = true
            throw SubscriberRefusal(message: message, text: text)
        case .streamEnd where message["stream_id"]?.stringValue == streamID:
            if payload?["reason"]?.stringValue == StreamEndReason.serverShutdown.rawValue, policy.maxAttempts > 0 {
                // The host goes away, the stream does not: another host, or this one back, serves it.
                hostIsLeaving = true
                await lose("the host is shutting down")
                return .message(message, text: text)
            }
            isEnded = true
        default:
            if !type.isServerMessage, message["stream_id"]?.stringValue == streamID, let sequence = payload?["sequence"]?.numberValue.map({ Int($0) }) {
                if let lastSequence, sequence <= lastSequence { return nil }
                lastSequence = sequence
            }
        }
        return .message(message, text: text)
    }

    // MARK: Connections

    private func connect() async throws {
        let endpoint = endpoint
        let connected = try await ProtocolClient.connect(host: endpoint.host, port: endpoint.port, path: endpoint.path, tls: endpoint.isSecure ? tls : nil)
        do {
            if let apiKey {
                try await connected.send(.auth(apiKey: apiKey, timestamp: Int64(WallClock.nowMilliseconds()), signed: true))
                let reply = try await connected.nextMessage()
                if reply["type"]?.stringValue != MessageType.authSuccess.rawValue {
                    isEnded = true
                    throw SubscriberRefusal(message: reply, text: JSONValue.object(reply).jsonText)
                }
            }
            var subscribe = ClientMessage.subscribe(streamID: streamID, pipeline: pipeline, params: params)
            if let epoch, let lastSequence {
                subscribe.payload?["since"] = ResumePoint(epoch: epoch, sequence: lastSequence).json
            }
            try await connected.send(subscribe)
        } catch {
            await connected.disconnect()
            throw error
        }
        client = connected
    }

    /// Drops the connection; the next read reconnects (or fails, with no attempts allowed).
    private func lose(_ reason: String) async {
        if let client { await client.disconnect() }
        client = nil
        pendingLoss = reason
    }

    /// Connects again with backoff: the same endpoint first unless its host is leaving,
    /// then the next endpoint before each attempt.
    private func reconnect(after reason: String) async throws -> SubscriberEvent {
        guard policy.maxAttempts > 0 else {
            isEnded = true
            throw ClientError("\(reason) (\(endpoint)); reconnecting is off")
        }
        var lastError = reason
        while attempt < policy.maxAttempts {
            attempt += 1
            if endpoints.count > 1, attempt > 1 || hostIsLeaving { endpointIndex = (endpointIndex + 1) % endpoints.count }
            hostIsLeaving = false
            try await Task.sleep(for: policy.delay(beforeAttempt: attempt))
            do {
                try await connect()
                return .reconnected(to: endpoint, attempt: attempt, reason: reason)
            } catch let refusal as SubscriberRefusal {
                throw refusal
            } catch {
                lastError = "\(error)"
            }
        }
        isEnded = true
        throw ClientError("gave up after \(attempt) attempts to reconnect to \(endpoints.map(\.description).joined(separator: ", ")): \(lastError)")
    }
}

/// The host refused the subscriber: `subscribe_failed`, or `auth_failed`; retrying would not help.
public struct SubscriberRefusal: Error, Sendable, CustomStringConvertible {
    public var message: JSONObject
    public var text: String

    public var description: String {
        let payload = message["payload"]?.objectValue
        let reason = payload?["message"]?.stringValue ?? text
        return payload?["error_code"]?.stringValue.map { "\(reason) (\($0))" } ?? reason
    }
}
