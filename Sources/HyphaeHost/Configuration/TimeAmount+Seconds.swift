import NIOCore

extension TimeAmount {
    /// `seconds` from a setting as a time amount, saturating rather than trapping:
    /// NaN and negatives are zero, and anything beyond Int64's nanoseconds (292 years)
    /// is the most there is.
    static func interval(seconds: Double) -> TimeAmount {
        let nanoseconds = seconds * 1e9
        guard nanoseconds > 0 else { return .zero }
        guard nanoseconds < Double(Int64.max) else { return .nanoseconds(.max) }
        return .nanoseconds(Int64(nanoseconds))
    }
}
