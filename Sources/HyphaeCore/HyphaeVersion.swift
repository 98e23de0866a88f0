/// This build's version, as `hyphae --version` and the protocol's `init` reply give it.
public enum HyphaeVersion {
    public static let current = "0.1.0"
}
