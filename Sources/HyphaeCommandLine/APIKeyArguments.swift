import ArgumentParser
import Foundation

/// The API key of the commands that connect to a host as a client (`subscribe`,
/// `bench run`). Without `--api-key` they read `MFN_API_KEY`, as the Python example
/// client does, so a key need not appear in the shell's history.
struct APIKeyArguments: ParsableArguments {
    @Option(help: "The API key to authenticate with (default: the MFN_API_KEY variable, when set).")
    var apiKey: String?

    /// `--api-key`, else a non-empty `MFN_API_KEY`; nil: do not authenticate.
    func key(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let apiKey { return apiKey }
        guard let variable = environment["MFN_API_KEY"], !variable.isEmpty else { return nil }
        return variable
    }
}
