import Synchronization

/// The bytes that every subscription queue of the host holds together. Past the
/// limit, each queue acts as full and its policy decides, so that slow readers on
/// many connections cannot add up to more memory than the host allows. Touched only
/// when a frame is queued or leaves a queue, never for a frame written at once.
final class QueuedBytesBudget: Sendable {
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    var isExhausted: Bool { used.load(ordering: .relaxed) >= limit }
    var bytesInUse: Int { used.load(ordering: .relaxed) }

    func add(_ bytes: Int) {
        used.add(bytes, ordering: .relaxed)
    }

    func subtract(_ bytes: Int) {
        used.subtract(bytes, ordering: .relaxed)
    }
}
