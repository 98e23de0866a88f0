import ArgumentParser
import HyphaeCore
import HyphaeHost

struct Stages: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the stage types this build knows, with their configuration fields."
    )

    @Argument(help: "Only these stage types.")
    var types: [String] = []

    @Flag(help: "Print the stages as a JSON array, each with its type, kind, summary and fields (name, type, default, required, min, max, below, allowed, description).")
    var json = false

    func run() throws {
        let registry = try InstalledPlugins.current.registry()
        var descriptors = registry.all
        if !types.isEmpty {
            for type in types where registry[type] == nil {
                let hint = Suggestions.didYouMean(type, in: registry.all.map(\.type))
                throw ValidationError("unknown stage type '\(type)'\(hint)")
            }
            descriptors = descriptors.filter { types.contains($0.type) }
        }
        if json {
            print(JSONValue.array(descriptors.map(\.descriptionJSON)).jsonText)
            return
        }
        for (index, descriptor) in descriptors.enumerated() {
            if index > 0 { print("") }
            print("\(descriptor.type) (\(descriptor.kind.rawValue)): \(descriptor.summary)")
            let fields = descriptor.fields
            if fields.isEmpty { print("  no fields") }
            for field in fields {
                var line = "  \(field.name): \(field.type)"
                if let constraint = field.constraint { line += ", \(constraint)" }
                if let fallback = field.defaultText {
                    line += ", default \(fallback.isEmpty ? "\"\"" : fallback)"
                } else {
                    line += field.isRequired ? ", required" : ", optional"
                }
                print(line)
                print("      \(field.summary)")
            }
        }
    }
}
