import HyphaeClient
import HyphaeCore

extension JSONObject {
    var messageType: String? { self["type"]?.stringValue }
    var messageStreamID: String? { self["stream_id"]?.stringValue }
    var messagePayload: JSONObject { self["payload"]?.objectValue ?? [:] }
    /// A data frame's `sequence`; nil for messages about the stream.
    var frameSequence: Int? { messagePayload["sequence"]?.numberValue.map { Int($0) } }
    var rendered: String { JSONValue.object(self).jsonText }
}

/// Everything one subscription received, in order: data frames' sequence numbers
/// and the messages about the stream (`stream_reloaded`, `stream_end`, errors).
struct SubscriberRecord: Sendable {
    var streamID: String
    var sequences: [Int] = []
    var frames: [JSONObject] = []
    /// `stream_reloaded`, `stream_end`, `error` and anything else that is not a data frame or heartbeat.
    var notices: [JSONObject] = []
    /// How the connection ended, if it did: a close frame or a dropped connection.
    var connectionLost: String?

    init(streamID: String) {
        self.streamID = streamID
    }

    var reloads: [JSONObject] { notices.filter { $0.messageType == "stream_reloaded" } }
    var reloadedVersions: [String] { reloads.compactMap { $0.messagePayload["pipeline_version"]?.stringValue } }
    var end: JSONObject? { notices.first { $0.messageType == "stream_end" } }

    /// The sequence numbers that are missing, or where the numbering went backwards.
    var sequenceProblems: [String] {
        var problems: [String] = []
        for (earlier, later) in zip(sequences, sequences.dropFirst()) where later != earlier + 1 {
            problems.append(later > earlier ? "gap \(earlier) → \(later)" : "backwards \(earlier) → \(later)")
        }
        return problems
    }

    /// Fails unless the numbers rose by exactly one each time.
    func requireContinuousSequences(_ context: String = "") throws {
        let problems = sequenceProblems
        guard problems.isEmpty else {
            throw ReloadExpectationFailure("\(streamID)\(context.isEmpty ? "" : " (\(context))"): sequence numbers not continuous: \(problems.prefix(5).joined(separator: ", ")) in \(sequences.count) frames")
        }
    }

    /// Takes one message received on the connection, if it belongs to this stream.
    mutating func take(_ message: JSONObject) {
        guard message.messageType != "heartbeat" else { return }
        if message.messageStreamID == streamID, let sequence = message.frameSequence, message.messageType != "stream_end" {
            sequences.append(sequence)
            frames.append(message)
        } else if message.messageStreamID == streamID || message.messageStreamID == nil {
            notices.append(message)
        }
    }
}

extension ProtocolClient {
    /// Sends `subscribe` and requires `subscribe_success` for `streamID`.
    @discardableResult
    func subscribeExpectingSuccess(_ streamID: String, to pipeline: String?, params: JSONObject? = nil) async throws -> JSONObject {
        let reply = try await subscribeReply(streamID, to: pipeline, params: params)
        guard reply.messageType == "subscribe_success", reply.messageStreamID == streamID else {
            throw ReloadExpectationFailure("expected subscribe_success for '\(streamID)', received \(reply.rendered)")
        }
        return reply
    }

    /// Sends `subscribe` and returns the reply (data frames of other streams are skipped).
    func subscribeReply(_ streamID: String, to pipeline: String?, params: JSONObject? = nil) async throws -> JSONObject {
        var payload: JSONObject = ["stream_id": .string(streamID)]
        if let pipeline { payload["stream_type"] = .string(pipeline) }
        if let params { payload["params"] = .object(params) }
        try await send(type: "subscribe", payload: payload)
        while true {
            let message = try await nextMessage()
            if ["subscribe_success", "subscribe_failed", "error"].contains(message.messageType ?? "") { return message }
        }
    }

    /// Reads into `record` until `stop` says so about a message of this stream, or
    /// the time runs out (which throws).
    func read(
        into record: inout SubscriberRecord, timeout: Duration = .seconds(15),
        until stop: (JSONObject, SubscriberRecord) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                throw ReloadExpectationFailure("\(record.streamID): the awaited message did not come within \(timeout); received \(record.sequences.count) frames and notices \(record.notices.map(\.rendered))")
            }
            switch try await next(timeout: left) {
            case .message(let value, let text):
                guard let message = value?.objectValue else { throw ReloadExpectationFailure("not a JSON object: \(text)") }
                record.take(message)
                if stop(message, record) { return }
            case .closeFrame(let code, let reason):
                record.connectionLost = "close \(code) \(reason)"
                throw ReloadExpectationFailure("\(record.streamID): the server closed the connection with \(code) (\(reason))")
            case .disconnected:
                record.connectionLost = "disconnected"
                throw ReloadExpectationFailure("\(record.streamID): the connection dropped")
            }
        }
    }

    /// Reads until this stream has `count` more data frames.
    func readFrames(_ count: Int, into record: inout SubscriberRecord, timeout: Duration = .seconds(15)) async throws {
        let target = record.sequences.count + count
        if record.sequences.count >= target { return }
        try await read(into: &record, timeout: timeout) { _, record in record.sequences.count >= target }
    }

    /// Reads until this stream gets a message of `type` (`stream_reloaded`, `stream_end`); returns it.
    @discardableResult
    func readUntil(_ type: String, into record: inout SubscriberRecord, timeout: Duration = .seconds(15)) async throws -> JSONObject {
        var found: JSONObject?
        try await read(into: &record, timeout: timeout) { message, record in
            guard message.messageType == type, message.messageStreamID == record.streamID else { return false }
            found = message
            return true
        }
        guard let found else { throw ReloadExpectationFailure("no \(type)") }
        return found
    }

    /// Reads whatever arrives for `duration` into `record`; fails if the connection ends.
    func readFor(_ duration: Duration, into record: inout SubscriberRecord) async throws {
        let deadline = ContinuousClock.now + duration
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return }
            let event: ClientEvent
            do {
                event = try await next(timeout: left)
            } catch is ClientError {
                return
            }
            switch event {
            case .message(let value, let text):
                guard let message = value?.objectValue else { throw ReloadExpectationFailure("not a JSON object: \(text)") }
                record.take(message)
            case .closeFrame(let code, let reason):
                record.connectionLost = "close \(code) \(reason)"
                throw ReloadExpectationFailure("\(record.streamID): the server closed the connection with \(code) (\(reason))")
            case .disconnected:
                record.connectionLost = "disconnected"
                throw ReloadExpectationFailure("\(record.streamID): the connection dropped")
            }
        }
    }

    /// Shows the connection is open and answers: `init` gets its reply.
    func requireAnswers(_ context: String) async throws {
        try await send(type: "init", payload: ["protocol_version": "1.0"])
        while true {
            let message = try await nextMessage()
            if message.messageType == "init" { return }
            if message.messageType == "error" { throw ReloadExpectationFailure("\(context): init got \(message.rendered)") }
        }
    }
}
