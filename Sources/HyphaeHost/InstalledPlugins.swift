import Compression
import Console
import HyphaeCore
import MFN
import MovingAverage
import Sampling
import Ticker

/// The stage modules this build of Hyphae serves. A new module under Plugins/ is
/// added here, with one line (and its import).
public enum InstalledPlugins {
    public static let all: [any StagePlugin.Type] = [
        CompressionPlugin.self,
        ConsolePlugin.self,
        MFNPlugin.self,
        MovingAveragePlugin.self,
        SamplingPlugin.self,
        TickerPlugin.self,
        HostStagesPlugin.self,
    ]

    /// A registry with every installed stage type.
    public static func registry() -> StageRegistry {
        StageRegistry(plugins: all)
    }
}
