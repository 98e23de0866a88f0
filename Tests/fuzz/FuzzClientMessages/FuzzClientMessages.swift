import FuzzSupport
import HyphaeCore

/// The input is a text message as a client sends it. It goes through the steps the host's
/// session takes (Sources/HyphaeHost/Session/ProtocolSession.swift, handleText): UTF-8
/// check, JSONParser, the envelope's `type` and `payload`, the type's name with its
/// suggestions, the stream id rules (MessageType.swift and StreamIDRules.swift are links
/// to HyphaeProtocol's files, which spares the build HyphaeProtocol's Crypto). Properties:
/// nothing traps; a failure is a JSONParseError with an offset inside the input; what
/// parses was UTF-8, nests no deeper than the bound and has no more members than the
/// bound; JSONWriter's text of it parses back to the same value and is written again
/// byte for byte the same.
@main
enum ClientMessagesFuzzer: FuzzTarget {
    static func fuzz(_ bytes: [UInt8]) { fuzzClientMessages(bytes) }
}

private func fuzzClientMessages(_ bytes: [UInt8]) {
    let isUTF8 = String(validating: bytes, as: UTF8.self) != nil

    let value: JSONValue
    do {
        value = try JSONParser.parse(bytes)
    } catch {
        fuzzCheck(error.offset >= 0 && error.offset <= bytes.count, "error offset \(error.offset) outside \(bytes.count) bytes")
        fuzzCheck(!error.reason.isEmpty, "an error without a reason")
        return
    }
    fuzzCheck(isUTF8, "parsed a value from bytes that are not UTF-8")
    fuzzCheck(depth(of: value) <= JSONParser.maximumDepth, "nesting \(depth(of: value)) beyond \(JSONParser.maximumDepth)")
    checkRoundTrip(value)

    guard let object = value.objectValue, let type = object["type"]?.stringValue else { return }
    let messageType = MessageType(type)
    if !MessageType.clientTypes.contains(messageType), type.utf8.count <= 64 {
        _ = Suggestions.didYouMean(type, in: MessageType.clientTypes.map(\.rawValue))
    }
    let payload = object["payload"]?.objectValue
    if let streamID = payload?["stream_id"]?.stringValue {
        _ = StreamIDRules.describe(streamID)
        if StreamIDRules.isValid(streamID) {
            fuzzCheck(streamID.utf8.count <= StreamIDRules.maximumBytes && !streamID.isEmpty, "stream id '\(streamID)' passed the rules")
        }
    }
}

private func checkRoundTrip(_ value: JSONValue) {
    var writer = JSONWriter()
    writer.write(value)
    let written = writer.bytes
    do {
        let reparsed = try JSONParser.parse(written)
        fuzzCheck(reparsed == value, "\(String(decoding: written, as: UTF8.self).prefix(200)) reads back as another value")
        var again = JSONWriter()
        again.write(reparsed)
        fuzzCheck(again.bytes == written, "writing a value twice gives two texts")
    } catch {
        fuzzCheck(false, "JSONWriter wrote text JSONParser rejects: \(error) in \(String(decoding: written, as: UTF8.self).prefix(200))")
    }
}

private func depth(of value: JSONValue) -> Int {
    switch value {
    case .array(let elements): 1 + (elements.map(depth).max() ?? 0)
    case .object(let object):
        1 + (object.members.map { depth(of: $0.value) }.max() ?? 0)
    case .numbers: 1
    case .null, .bool, .int, .double, .string: 0
    }
}
