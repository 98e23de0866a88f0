import HyphaeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes each frame as one JSON line on standard output, for tapping a pipeline.
public struct StandardOutputSink: SinkStage {
    public struct Configuration: StageConfiguration {
        public var streamID: String?

        public init(reading config: inout ConfigReader) {
            streamID = config.optionalString("stream_id", summary: "the stream_id written into each frame; left out when not set")
        }
    }

    public static let stageType = "stdout"
    public static let summary = "writes each frame to standard output as a line of JSON"

    private var encoder = FrameEncoder()
    private let streamID: String?
    private let output: LineWriter

    public init(configuration: Configuration, context: StageContext) {
        self.init(streamID: configuration.streamID, output: .standardOutput)
    }

    init(streamID: String?, output: LineWriter) {
        self.streamID = streamID
        self.output = output
    }

    public mutating func consume(_ frame: Frame) async throws {
        try output.writeLine(encoder.encode(frame, streamID: streamID))
    }
}

/// Writes whole lines to a file descriptor with one `write` each, so lines from
/// several writers never interleave mid-line.
struct LineWriter: Sendable {
    static let standardOutput = LineWriter(descriptor: 1)

    let descriptor: Int32

    func writeLine(_ bytes: [UInt8]) throws {
        var line = bytes
        line.append(UInt8(ascii: "\n"))
        try line.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw StageError("cannot write to file descriptor \(descriptor): errno \(errno)")
                }
                offset += written
            }
        }
    }
}
