/// A frame encoded once as protocol JSON, with the two places where a subscriber's
/// `stream_id` goes left open. Every subscriber of an instance reads the same bytes;
/// only the id spliced into them differs.
///
/// The layout is `head + id + middle + id + tail`, where the id is the JSON-escaped
/// stream id without its quotes.
public struct EncodedFrame: Sendable {
    public let bytes: [UInt8]
    public let headEnd: Int
    public let middleEnd: Int
    public let sequence: Int
    /// When the frame was produced, in Unix milliseconds.
    public let timestamp: Double
    public let delivery: Frame.Delivery

    public var head: ArraySlice<UInt8> { bytes[..<headEnd] }
    public var middle: ArraySlice<UInt8> { bytes[headEnd..<middleEnd] }
    public var tail: ArraySlice<UInt8> { bytes[middleEnd...] }

    /// The length of the message for a stream id whose escaped form has `idLength` bytes.
    public func length(idLength: Int) -> Int {
        bytes.count + 2 * idLength
    }

    /// The complete message for one stream id, for callers that are not on a hot path.
    public func message(streamID: String) -> [UInt8] {
        let id = FrameEncoder.escapedStreamID(streamID)
        var message: [UInt8] = []
        message.reserveCapacity(length(idLength: id.count))
        message.append(contentsOf: head)
        message.append(contentsOf: id)
        message.append(contentsOf: middle)
        message.append(contentsOf: id)
        message.append(contentsOf: tail)
        return message
    }
}

/// Turns frames into protocol messages:
/// `{"type":T,"stream_id":ID,"timestamp":MS,"payload":{"stream_id":ID,"sequence":N,"timestamp":MS,...}}`.
public struct FrameEncoder: Sendable {
    private var writer = JSONWriter(capacity: 1024)

    public init() {}

    /// Encodes with the stream id left open for splicing.
    public mutating func encode(_ frame: Frame) -> EncodedFrame {
        writer.reset()
        writer.writeRaw("{\"type\":")
        writer.write(frame.type)
        writer.writeRaw(",\"stream_id\":\"")
        let headEnd = writer.bytes.count
        writer.writeRaw("\",\"timestamp\":")
        writer.write(frame.timestamp)
        writer.writeRaw(",\"payload\":{\"stream_id\":\"")
        let middleEnd = writer.bytes.count
        writeRest(of: frame)
        return EncodedFrame(
            bytes: writer.bytes,
            headEnd: headEnd,
            middleEnd: middleEnd,
            sequence: frame.sequence,
            timestamp: frame.timestamp,
            delivery: frame.delivery
        )
    }

    /// Encodes a complete message; without a stream id the `stream_id` members are left out.
    public mutating func encode(_ frame: Frame, streamID: String?) -> [UInt8] {
        guard let streamID else {
            writer.reset()
            writer.writeRaw("{\"type\":")
            writer.write(frame.type)
            writer.writeRaw(",\"timestamp\":")
            writer.write(frame.timestamp)
            writer.writeRaw(",\"payload\":{")
            writer.writeRaw("\"sequence\":")
            writer.write(frame.sequence)
            writer.writeRaw(",\"timestamp\":")
            writer.write(frame.timestamp)
            writer.writeMembers(of: frame.payload, leadingComma: true)
            writer.writeRaw("}}")
            return writer.bytes
        }
        return encode(frame).message(streamID: streamID)
    }

    private mutating func writeRest(of frame: Frame) {
        writer.writeRaw("\",\"sequence\":")
        writer.write(frame.sequence)
        writer.writeRaw(",\"timestamp\":")
        writer.write(frame.timestamp)
        writer.writeMembers(of: frame.payload, leadingComma: true)
        writer.writeRaw("}}")
    }

    /// A stream id as it stands between the quotes of a JSON string.
    public static func escapedStreamID(_ streamID: String) -> [UInt8] {
        var writer = JSONWriter(capacity: streamID.utf8.count + 2)
        writer.write(streamID)
        return Array(writer.bytes.dropFirst().dropLast())
    }
}
