import HyphaeCore

/// What a reload did, for the log, the admin API and the tests.
public struct ReloadReport: Sendable {
    public var added: [String] = []
    public var changed: [String] = []
    public var removed: [String] = []
    public var unchanged: [String] = []
    /// Files whose new text was refused; the pipelines they held keep their old version.
    public var failures: [String: [Diagnostic]] = [:]

    public var succeeded: Bool { failures.isEmpty }

    public var json: JSONValue {
        var failed = JSONObject()
        for (file, diagnostics) in failures.sorted(by: { $0.key < $1.key }) {
            failed.append(file, .array(diagnostics.map(\.json)))
        }
        return .object([
            "result": .string(succeeded ? "success" : "failed"),
            "added": .array(added.map(JSONValue.string)),
            "changed": .array(changed.map(JSONValue.string)),
            "removed": .array(removed.map(JSONValue.string)),
            "unchanged": .array(unchanged.map(JSONValue.string)),
            "errors": .object(failed),
        ])
    }
}
