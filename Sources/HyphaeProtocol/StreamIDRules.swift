/// What a `stream_id` may be (PROTOCOL.md, subscribe): 1 to 128 characters, and at
/// most 512 bytes of UTF-8, since one character may take many bytes.
public enum StreamIDRules {
    public static let maximumCharacters = 128
    public static let maximumBytes = 512

    public static func isValid(_ id: String) -> Bool {
        id.utf8.count <= maximumBytes && (1...maximumCharacters).contains(id.count)
    }

    /// What a refusal says was found instead.
    public static func describe(_ id: String) -> String {
        "a string of \(id.count) characters (\(id.utf8.count) bytes)"
    }

    public static let requirement = "a string of 1 to \(maximumCharacters) characters and at most \(maximumBytes) bytes of UTF-8"
}
