/// What a WebSocket connection was opened on.
enum Endpoint: Sendable, Equatable {
    /// A pipeline's own path: `stream_type` may be left out.
    case pipeline(String, path: String)
    /// `/ws`: any pipeline, by `stream_type`.
    case anyPipeline
    /// `/ws/heartbeat`: no subscriptions.
    case heartbeat

    var path: String {
        switch self {
        case .pipeline(_, let path): path
        case .anyPipeline: "/ws"
        case .heartbeat: "/ws/heartbeat"
        }
    }
}
