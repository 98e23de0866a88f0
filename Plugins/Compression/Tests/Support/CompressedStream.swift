import HyphaeCore

@testable import Compression

/// Runs frames through a `compress` stage the way a pipeline run does: one output
/// per input, `sequence` assigned after the transform, +1 per frame, then encoded
/// once as protocol JSON.
struct CompressedStream {
    struct Message {
        var original: Frame
        var sent: Frame
        var bytes: [UInt8]
    }

    static func run(_ frames: [Frame], through configuration: CompressConfiguration?) throws -> [Message] {
        var stage = configuration.map(CompressTransform.init(configuration:))
        var encoder = FrameEncoder()
        var messages: [Message] = []
        messages.reserveCapacity(frames.count)
        for (sequence, frame) in frames.enumerated() {
            var output: [Frame] = []
            if stage != nil {
                try stage?.process(frame, into: &output)
            } else {
                output = [frame]
            }
            precondition(output.count == 1, "compress emits one frame per frame")
            var sent = output[0]
            sent.sequence = sequence
            messages.append(Message(original: frame, sent: sent, bytes: encoder.encode(sent, streamID: "s1")))
        }
        return messages
    }

    /// Mean encoded size per frame, in bytes.
    static func meanSize(of frames: [Frame], through configuration: CompressConfiguration?) throws -> Double {
        let messages = try run(frames, through: configuration)
        return Double(messages.reduce(0) { $0 + $1.bytes.count }) / Double(messages.count)
    }
}
