import HyphaeCore
import HyphaeHost
import HyphaePlugins

/// The stage types this build of `hyphae` knows: the bundled stage modules and the
/// host's own `websocket` sink.
enum InstalledPlugins {
    static let all: [any StagePlugin.Type] = BundledPlugins.all

    static func registry() -> StageRegistry {
        HostStages.registry(adding: all)
    }
}
