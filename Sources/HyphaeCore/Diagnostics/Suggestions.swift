/// Finds the known names a misspelt one was probably meant to be.
public enum Suggestions {
    /// The candidates within a small edit distance of `name`, closest first.
    public static func nearest(to name: String, in candidates: some Sequence<String>, limit: Int = 3) -> [String] {
        let target = Array(name.lowercased().unicodeScalars)
        let tolerance = max(2, target.count / 3)
        return candidates
            .map { candidate in (candidate, editDistance(target, Array(candidate.lowercased().unicodeScalars))) }
            .filter { $0.1 <= tolerance || $0.0.lowercased().hasPrefix(name.lowercased()) && !name.isEmpty }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
            .prefix(limit)
            .map(\.0)
    }

    /// `; did you mean 'sample'?` or an empty string when nothing is close.
    public static func didYouMean(_ name: String, in candidates: some Sequence<String>) -> String {
        let matches = nearest(to: name, in: candidates)
        guard !matches.isEmpty else { return "" }
        return "; did you mean " + matches.map { "'\($0)'" }.joined(separator: " or ") + "?"
    }

    /// Damerau–Levenshtein distance (optimal string alignment): a swap of two
    /// neighbouring letters, the commonest typo, costs one edit.
    static func editDistance(_ lhs: [Unicode.Scalar], _ rhs: [Unicode.Scalar]) -> Int {
        if lhs.isEmpty { return rhs.count }
        if rhs.isEmpty { return lhs.count }
        var previousPrevious = [Int](repeating: 0, count: rhs.count + 1)
        var previous = Array(0...rhs.count)
        var current = [Int](repeating: 0, count: rhs.count + 1)
        for i in 1...lhs.count {
            current[0] = i
            for j in 1...rhs.count {
                let substitution = lhs[i - 1] == rhs[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + substitution)
                if i > 1, j > 1, lhs[i - 1] == rhs[j - 2], lhs[i - 2] == rhs[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            (previousPrevious, previous, current) = (previous, current, previousPrevious)
        }
        return previous[rhs.count]
    }
}
