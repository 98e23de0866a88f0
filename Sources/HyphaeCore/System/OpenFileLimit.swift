#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open files. Every connection, the host's or the load
/// generator's, is a file, so both lift the soft limit as far as they may.
public enum OpenFileLimit {
    /// Lifts the soft limit on open files to the hard limit; returns the limit in
    /// force afterwards, or nil when the system would not say.
    @discardableResult
    public static func raiseToHardLimit() -> Int? {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    private static let resource = Int32(RLIMIT_NOFILE.rawValue)
}
