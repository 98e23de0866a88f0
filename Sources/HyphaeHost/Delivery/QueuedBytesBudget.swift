/// The bytes that every subscription queue of the host holds together. Past the
/// limit, each queue acts as full and its policy decides, so that slow readers on
/// many connections cannot add up to more memory than the host allows. Touched only
/// when a frame is queued or leaves a queue, never for a frame written at once.
final class QueuedBytesBudget: Sendable {
    let limit: Int
    /// The bytes in use, which `/metrics` reports as `hyphae_queued_bytes`.
    private let used: MetricValue

    init(limit: Int, counting used: MetricValue = MetricValue()) {
        self.limit = limit
        self.used = used
    }

    var isExhausted: Bool { used.current >= limit }
    var bytesInUse: Int { used.current }

    func add(_ bytes: Int) {
        used.add(bytes)
    }

    func subtract(_ bytes: Int) {
        used.subtract(bytes)
    }
}
