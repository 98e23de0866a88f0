import HyphaeClient
import HyphaeProtocol
import XCTest
import HyphaeCore

/// A test expectation that did not hold; thrown so that the test stops at once.
struct ExpectationFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

extension JSONObject {
    var type: String? { self["type"]?.stringValue }
    var streamID: String? { self["stream_id"]?.stringValue }
    var payload: JSONObject { self["payload"]?.objectValue ?? [:] }
    var errorCode: String? { payload["error_code"]?.stringValue }
    var errorMessage: String { payload["message"]?.stringValue ?? "" }
    /// A data frame's `sequence`; nil for the protocol's own messages (`subscribe_success`
    /// carries the stream's latest `sequence` too, PROTOCOL.md, Resume).
    var sequence: Int? {
        guard let type, !MessageType(type).isServerMessage else { return nil }
        return payload["sequence"]?.numberValue.map { Int($0) }
    }
    var text: String { JSONValue.object(self).jsonText }

    func int(_ field: String) -> Int? { payload[field]?.numberValue.map { Int($0) } }
}

extension JSONValue {
    var intValue: Int? { numberValue.map { Int($0) } }
}

extension ProtocolClient {
    /// The next reply to a request: skips heartbeats and data frames (messages whose
    /// payload carries a `sequence`), which interleave with replies while streams run.
    func nextReply(timeout: Duration = .seconds(10)) async throws -> JSONObject {
        while true {
            let message = try await nextMessage(timeout: timeout)
            if message.sequence == nil { return message }
        }
    }

    /// The next message other than a heartbeat; it must be of `type`.
    @discardableResult
    func expect(_ type: String, timeout: Duration = .seconds(10)) async throws -> JSONObject {
        let message = try await nextReply(timeout: timeout)
        guard message.type == type else {
            throw ExpectationFailure("expected a '\(type)' message, received \(message.text)")
        }
        return message
    }

    /// The next message must be `type` (`error`, `subscribe_failed`, `auth_failed`) with `error_code`.
    @discardableResult
    func expectFailure(_ type: String, code: String, timeout: Duration = .seconds(10)) async throws -> JSONObject {
        let message = try await expect(type, timeout: timeout)
        guard message.errorCode == code else {
            throw ExpectationFailure("expected error_code \(code) in \(message.text)")
        }
        guard !message.errorMessage.isEmpty else {
            throw ExpectationFailure("the \(type) carries no message: \(message.text)")
        }
        return message
    }

    /// Reads until the server's close frame, which must carry `code`; returns the
    /// messages that came before it.
    @discardableResult
    func expectClose(code: UInt16, timeout: Duration = .seconds(10)) async throws -> [JSONObject] {
        var before: [JSONObject] = []
        while true {
            switch try await next(timeout: timeout) {
            case .message(let value, let text):
                guard let object = value?.objectValue else { throw ExpectationFailure("a message that is not a JSON object: \(text)") }
                before.append(object)
            case .closeFrame(let received, let reason):
                guard received == code else {
                    throw ExpectationFailure("expected close \(code), received close \(received) (\(reason))")
                }
                return before
            case .disconnected:
                throw ExpectationFailure("the connection dropped without a close frame (expected \(code))")
            }
        }
    }

    /// Sends `init` and returns the reply (without checking it).
    func sendInit(version: JSONValue = "1.0") async throws -> JSONObject {
        try await send(type: "init", payload: ["protocol_version": version, "client_info": "hyphae e2e tests"])
        return try await nextReply()
    }

    /// Shows the connection still answers: an `init` gets its `init` reply.
    func assertAlive(_ context: String = "") async throws {
        let reply = try await sendInit()
        guard reply.type == "init" else {
            throw ExpectationFailure("the connection should still answer\(context.isEmpty ? "" : " after \(context)"), but init got \(reply.text)")
        }
    }

    /// Sends `auth` and returns the reply.
    func authenticate(_ payload: JSONObject) async throws -> JSONObject {
        try await send(type: "auth", payload: payload)
        return try await nextReply()
    }

    /// Sends `subscribe` and returns the reply.
    func subscribe(_ streamID: String?, to streamType: String? = nil, params: JSONObject? = nil) async throws -> JSONObject {
        var payload: JSONObject = [:]
        if let streamType { payload["stream_type"] = .string(streamType) }
        if let streamID { payload["stream_id"] = .string(streamID) }
        if let params { payload["params"] = .object(params) }
        try await send(type: "subscribe", payload: payload)
        return try await nextReply()
    }

    /// Subscribes and requires `subscribe_success`.
    @discardableResult
    func subscribeSucceeding(_ streamID: String, to streamType: String? = nil, params: JSONObject? = nil) async throws -> JSONObject {
        let reply = try await subscribe(streamID, to: streamType, params: params)
        guard reply.type == "subscribe_success", reply.streamID == streamID else {
            throw ExpectationFailure("expected subscribe_success for '\(streamID)', received \(reply.text)")
        }
        return reply
    }

    /// Sends `unsubscribe` and reads until its acknowledgement (data frames may come first).
    func unsubscribe(_ streamID: String) async throws -> JSONObject {
        try await send(type: "unsubscribe", payload: ["stream_id": .string(streamID)])
        while true {
            let message = try await nextMessage()
            if message.type == "unsubscribe" || message.type == "error" { return message }
        }
    }

    /// Collects the data frames of `streamID` until its `stream_end`; other
    /// streams' frames are skipped.
    func framesUntilStreamEnd(_ streamID: String, timeout: Duration = .seconds(20)) async throws -> (frames: [JSONObject], end: JSONObject) {
        var frames: [JSONObject] = []
        while true {
            let message = try await nextMessage(timeout: timeout)
            guard message.streamID == streamID else { continue }
            if message.type == "stream_end" { return (frames, message) }
            if message.sequence != nil { frames.append(message) }
        }
    }

    /// The next `count` data frames of `streamID`.
    func frames(_ streamID: String, count: Int) async throws -> [JSONObject] {
        var frames: [JSONObject] = []
        while frames.count < count {
            let message = try await nextMessage()
            if message.streamID == streamID, message.sequence != nil { frames.append(message) }
        }
        return frames
    }
}

/// The sequence numbers missing between the first and the last of `sequences`,
/// which must rise strictly.
func missingSequences(_ sequences: [Int]) throws -> Int {
    var missing = 0
    for (earlier, later) in zip(sequences, sequences.dropFirst()) {
        guard later > earlier else { throw ExpectationFailure("sequence went from \(earlier) to \(later)") }
        missing += later - earlier - 1
    }
    return missing
}

/// `XCTAssertEqual` for a value that has to be awaited.
func assertEqual<Value: Equatable>(
    _ expression: @autoclosure () async throws -> Value, _ expected: @autoclosure () -> Value, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) async throws {
    let value = try await expression()
    XCTAssertEqual(value, expected(), message, file: file, line: line)
}

/// `XCTAssertFalse` for a value that has to be awaited.
func assertFalse(
    _ expression: @autoclosure () async throws -> Bool, _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) async throws {
    let value = try await expression()
    XCTAssertFalse(value, message, file: file, line: line)
}
