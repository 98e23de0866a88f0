/// The ways Hyphae reads true and false from text. Every reader of a Boolean goes
/// through here, so that each accepts the same words and refuses the rest (nil),
/// which it then reports: a misspelt `ture` must never quietly become false.
public enum BoolSpelling: Sendable {
    /// YAML 1.2's plain scalars `true`, `True`, `TRUE`, `false`, `False`, `FALSE`:
    /// pipeline files, which any YAML tool reads the same way.
    case yaml
    /// `true`/`1`/`yes` or `false`/`0`/`no` in any case: command lines and
    /// environment variables, where a value is typed rather than edited.
    case flag

    /// The value `text` spells, or nil when it is none of the accepted words.
    public func parse(_ text: String) -> Bool? {
        switch self {
        case .yaml:
            switch text {
            case "true", "True", "TRUE": true
            case "false", "False", "FALSE": false
            default: nil
            }
        case .flag:
            switch text.lowercased() {
            case "true", "1", "yes": true
            case "false", "0", "no": false
            default: nil
            }
        }
    }

    /// The accepted words, for a message that says what to write instead.
    public var accepted: String {
        switch self {
        case .yaml: "true or false"
        case .flag: "true/1/yes or false/0/no"
        }
    }
}
