import HyphaeCore

/// A client's message: `{"type": T, "payload": {...}}` (PROTOCOL.md, Client messages).
public struct ClientMessage: Sendable, Equatable {
    public var type: MessageType
    public var payload: JSONObject?

    public init(_ type: MessageType, payload: JSONObject? = nil) {
        self.type = type
        self.payload = payload
    }

    public var json: JSONValue {
        var message: JSONObject = ["type": .string(type.rawValue)]
        if let payload { message["payload"] = .object(payload) }
        return .object(message)
    }

    public var jsonText: String { json.jsonText }

    public static func initialize(clientInfo: String) -> ClientMessage {
        ClientMessage(.`init`, payload: ["protocol_version": .string(ProtocolVersion.current), "client_info": .string(clientInfo)])
    }

    public static func auth(apiKey: String, timestamp: Int64, signed: Bool) -> ClientMessage {
        ClientMessage(.auth, payload: AuthSignature.authPayload(apiKey: apiKey, timestamp: timestamp, signed: signed))
    }

    /// `pipeline` may be nil on a pipeline's own path.
    public static func subscribe(streamID: String, pipeline: String?, params: JSONObject = [:]) -> ClientMessage {
        var payload: JSONObject = ["stream_id": .string(streamID)]
        if let pipeline { payload["stream_type"] = .string(pipeline) }
        if !params.isEmpty { payload["params"] = .object(params) }
        return ClientMessage(.subscribe, payload: payload)
    }

    public static func unsubscribe(streamID: String) -> ClientMessage {
        ClientMessage(.unsubscribe, payload: ["stream_id": .string(streamID)])
    }

    public static let pong = ClientMessage(.pong)
    public static let close = ClientMessage(.close)
}
