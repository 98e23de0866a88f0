/// Why a subscription's stream ended: `stream_end`'s `reason` (PROTOCOL.md, stream_end).
public struct StreamEndReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// A finite source finished.
    public static let complete = StreamEndReason(rawValue: "complete")
    /// A stage failed; an `error` with `STREAM_ERROR` comes first.
    public static let error = StreamEndReason(rawValue: "error")
    /// The server is stopping.
    public static let serverShutdown = StreamEndReason(rawValue: "server_shutdown")
    /// The pipeline's file was deleted.
    public static let pipelineRemoved = StreamEndReason(rawValue: "pipeline_removed")
    /// The pipeline changed and the subscriber's params no longer fit it.
    public static let paramsInvalid = StreamEndReason(rawValue: "params_invalid")
}
