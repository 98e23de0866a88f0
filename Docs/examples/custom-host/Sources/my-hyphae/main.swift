import HyphaeCommandLine
import Scale
await HyphaeCommand.main(plugins: [ScalePlugin.self])
