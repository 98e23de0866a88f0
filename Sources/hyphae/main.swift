import HyphaeCommandLine

await HyphaeCommand.main(plugins: [])
