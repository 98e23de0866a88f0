import HyphaeCore

/// A server message other than a data frame:
/// `{"type":T,"stream_id":ID,"timestamp":MS,"payload":{...}}` (PROTOCOL.md, Server
/// messages). Every message the server sends is built by one of the functions below.
public struct ServerMessage: Sendable, Equatable {
    public var type: MessageType
    public var streamID: String?
    public var payload: JSONObject?

    public init(_ type: MessageType, streamID: String? = nil, payload: JSONObject? = nil) {
        self.type = type
        self.streamID = streamID
        self.payload = payload
    }

    /// The message's JSON text, stamped with `timestamp` (ms); `writer` is reused.
    public func encoded(timestamp: Double, writer: inout JSONWriter) -> [UInt8] {
        writer.reset()
        writer.writeRaw("{\"type\":")
        writer.write(type.rawValue)
        if let streamID {
            writer.writeRaw(",\"stream_id\":")
            writer.write(streamID)
        }
        writer.writeRaw(",\"timestamp\":")
        writer.write(timestamp)
        if let payload {
            writer.writeRaw(",\"payload\":")
            writer.write(.object(payload))
        }
        writer.writeRaw("}")
        return writer.bytes
    }
}

// MARK: Replies to the client's messages

extension ServerMessage {
    /// The answer to `init`: what this server speaks and expects.
    public static func initReply(server: String, authRequired: Bool, heartbeatIntervalMilliseconds: Int, heartbeatTimeoutMilliseconds: Int) -> ServerMessage {
        ServerMessage(.`init`, payload: [
            "protocol_version": .string(ProtocolVersion.current),
            "server": .string(server),
            "auth_required": .bool(authRequired),
            "heartbeat_interval_ms": .int(heartbeatIntervalMilliseconds),
            "heartbeat_timeout_ms": .int(heartbeatTimeoutMilliseconds),
        ])
    }

    public static func authSuccess(keyID: String) -> ServerMessage {
        ServerMessage(.authSuccess, payload: ["key_id": .string(keyID)])
    }

    public static func authFailed(_ code: ErrorCode, _ message: String) -> ServerMessage {
        ServerMessage(.authFailed, payload: ["error_code": .string(code.rawValue), "message": .string(message)])
    }

    /// With `resume`, the payload carries `epoch` and `sequence`, and `recovered`
    /// (and `missed`) when the subscriber asked with `since` (PROTOCOL.md, Resume).
    public static func subscribeSuccess(
        streamID: String, pipeline: String, params: JSONObject, pipelineVersion: String, resume: ResumeOutcome? = nil
    ) -> ServerMessage {
        var payload: JSONObject = [
            "stream_type": .string(pipeline),
            "params": .object(params),
            "pipeline_version": .string(pipelineVersion),
        ]
        if let resume {
            payload["epoch"] = .string(resume.epoch)
            payload["sequence"] = .int(resume.sequence)
            if let recovered = resume.recovered { payload["recovered"] = .bool(recovered) }
            if let missed = resume.missed { payload["missed"] = .int(missed) }
        }
        return ServerMessage(.subscribeSuccess, streamID: streamID, payload: payload)
    }

    public static func subscribeFailed(_ code: ErrorCode, _ message: String, streamID: String?) -> ServerMessage {
        ServerMessage(.subscribeFailed, streamID: streamID, payload: ["error_code": .string(code.rawValue), "message": .string(message)])
    }

    /// The answer to `unsubscribe`: what the subscription received.
    public static func unsubscribed(streamID: String, packetsSent: Int, droppedFrames: Int, durationSeconds: Double) -> ServerMessage {
        ServerMessage(.unsubscribe, streamID: streamID, payload: [
            "packets_sent": .int(packetsSent),
            "dropped_frames": .int(droppedFrames),
            "duration_s": .double(durationSeconds),
        ])
    }

    public static let heartbeat = ServerMessage(.heartbeat)

    /// An `error`; its payload repeats the time it was raised.
    public static func error(_ code: ErrorCode, _ message: String, streamID: String? = nil, timestamp: Double = WallClock.nowMilliseconds()) -> ServerMessage {
        ServerMessage(.error, streamID: streamID, payload: [
            "error_code": .string(code.rawValue), "message": .string(message), "timestamp": .double(timestamp),
        ])
    }
}

// MARK: Stream notices

extension ServerMessage {
    /// A subscription's last message. `packetsSent` counts the frames it received,
    /// including those still queued ahead of this message.
    public static func streamEnd(streamID: String, reason: StreamEndReason, message: String, packetsSent: Int, droppedFrames: Int) -> ServerMessage {
        ServerMessage(.streamEnd, streamID: streamID, payload: [
            "reason": .string(reason.rawValue),
            "message": .string(message),
            "packets_sent": .int(packetsSent),
            "dropped_frames": .int(droppedFrames),
        ])
    }

    /// The subscription now reads a new version of its pipeline.
    /// (ext) The stream stalled (its source's frames stopped coming) or flows again;
    /// sent only to a subscriber that asked with `"stream_status": true`.
    public static func streamStatus(streamID: String, stalled: Bool, reason: String?, sequence: Int) -> ServerMessage {
        var payload: JSONObject = [
            "state": .string(stalled ? "stalled" : "flowing"),
            "sequence": .int(sequence),
        ]
        if let reason { payload["reason"] = .string(reason.prefix(utf8Bytes: 300)) }
        return ServerMessage(.streamStatus, streamID: streamID, payload: payload)
    }

    public static func streamReloaded(streamID: String, pipelineVersion: String, params: JSONObject) -> ServerMessage {
        ServerMessage(.streamReloaded, streamID: streamID, payload: [
            "pipeline_version": .string(pipelineVersion),
            "params": .object(params),
        ])
    }
}

/// The protocol version this package speaks.
public enum ProtocolVersion {
    public static let current = "1.0"
    /// The major version a client's `protocol_version` must have.
    public static let major = "1"
}
