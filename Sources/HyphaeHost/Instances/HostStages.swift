import HyphaeCore

/// The stage types the host provides itself: the `websocket` sink.
public enum HostStages: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(WebSocketSink.self)
    }

    /// A registry with the host's own stage types and those of `plugins`.
    public static func registry(adding plugins: [any StagePlugin.Type]) -> StageRegistry {
        StageRegistry(plugins: plugins + [HostStages.self])
    }
}
