import Compression
import Console
import Exec
import HyphaeCore
import MFN
import MovingAverage
import Redis
import Sampling
import Ticker

/// The stage modules this repository ships. A new module under Plugins/ is added
/// here, with one line (and its import); the host adds its own `websocket` sink.
public enum BundledPlugins {
    public static let all: [any StagePlugin.Type] = [
        CompressionPlugin.self,
        ConsolePlugin.self,
        ExecPlugin.self,
        MFNPlugin.self,
        MovingAveragePlugin.self,
        RedisPlugin.self,
        SamplingPlugin.self,
        TickerPlugin.self,
    ]
}
