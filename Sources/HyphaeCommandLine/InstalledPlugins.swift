import HyphaeCore
import HyphaeHost
import HyphaePlugins

/// The stage types of the `hyphae` being run: the bundled stage modules, the host's
/// own `websocket` sink, and the modules of the program that embeds the command line.
struct InstalledPlugins: Sendable {
    /// ArgumentParser makes the commands itself, so they cannot be handed the list;
    /// `HyphaeCommand.main(plugins:)` sets it for the run instead, and a test or a
    /// second run in the same process can set another.
    @TaskLocal static var current = InstalledPlugins(adding: [])

    let plugins: [any StagePlugin.Type]

    init(adding extra: [any StagePlugin.Type]) {
        plugins = BundledPlugins.all + extra
    }

    /// Every installed stage type. Two modules that register the same type would
    /// leave it to chance which one a pipeline gets, so that is refused.
    func registry() throws(CommandFailure) -> StageRegistry {
        let registry = HostStages.registry(adding: plugins)
        guard registry.conflicts.isEmpty else {
            throw CommandFailure("two stage modules register the same stage type: \(registry.conflicts.joined(separator: ", "))")
        }
        return registry
    }
}
