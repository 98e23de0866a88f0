/// What a full subscription queue does with a new frame (PROTOCOL.md, Backpressure).
public enum BackpressurePolicy: String, Sendable, CaseIterable {
    case dropOldest = "drop_oldest"
    case dropNewest = "drop_newest"
    case compress
    case close
    case block
}
