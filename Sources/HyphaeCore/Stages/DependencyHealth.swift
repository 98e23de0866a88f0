import Synchronization

/// Where stages tell the program running them about the services outside it that they
/// depend on (a Redis server): whether each is reachable now, and counts of what
/// happened to it (reconnects, frames lost). The host lends one board to every stage
/// it builds; `/ready` names the dependencies that are down and `/metrics` shows the
/// counts. A stage asks its context for the board and works without one (in `tap`,
/// in tests).
public final class DependencyBoard: StageResource {
    /// Names one dependency of one pipeline.
    public struct Key: Sendable, Hashable, Comparable {
        public var pipeline: String
        public var dependency: String

        public init(pipeline: String, dependency: String) {
            self.pipeline = pipeline
            self.dependency = dependency
        }

        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.pipeline, lhs.dependency) < (rhs.pipeline, rhs.dependency)
        }
    }

    /// What the board knows of one dependency.
    public struct Entry: Sendable, Equatable {
        /// How many running stages watch it now; a dependency nobody watches has no state.
        public var watchers = 0
        /// How many of those see it down.
        public var down = 0
        /// Why, in the words of the last stage that saw it go down.
        public var reason: String?
        /// Counts by event name; they survive the stages that reported them.
        public var counts: [String: Int] = [:]

        public var isDown: Bool { watchers > 0 && down > 0 }
    }

    /// Bounds what stages can grow here: a pipeline file names its dependencies, but
    /// counts are kept for the host's lifetime.
    public static let maximumEntries = 1024
    public static let maximumEventsPerEntry = 32

    private let entries = Mutex<[Key: Entry]>([:])

    public init() {}

    /// A handle for a stage that depends on `dependency`; it counts as watching it
    /// until the handle is released. It starts up: call `down` when it is not.
    public func watch(pipeline: String, dependency: String) -> DependencyHealth {
        let key = Key(pipeline: pipeline, dependency: dependency)
        entries.withLock { table in
            if table[key] == nil, table.count >= Self.maximumEntries { return }
            table[key, default: Entry()].watchers += 1
        }
        return DependencyHealth(board: self, key: key)
    }

    /// Every dependency with its state, in order.
    public func snapshot() -> [(key: Key, entry: Entry)] {
        entries.withLock { $0 }.sorted { $0.key < $1.key }.map { (key: $0.key, entry: $0.value) }
    }

    /// The dependencies some running stage sees down now.
    public var downDependencies: [(key: Key, reason: String?)] {
        snapshot().filter(\.entry.isDown).map { (key: $0.key, reason: $0.entry.reason) }
    }

    fileprivate func update(_ key: Key, _ change: (inout Entry) -> Void) {
        entries.withLock { table in
            guard var entry = table[key] else { return }
            change(&entry)
            table[key] = entry
        }
    }
}

/// One stage's view of one dependency, from `DependencyBoard.watch`. Releasing it (the
/// stage ends) stops the stage counting as a watcher, and as seeing it down.
public final class DependencyHealth: Sendable {
    private let board: DependencyBoard?
    private let key: DependencyBoard.Key
    private let isDown = Mutex(false)

    fileprivate init(board: DependencyBoard?, key: DependencyBoard.Key) {
        self.board = board
        self.key = key
    }

    /// A handle that reports to nobody, for a stage whose context lends no board.
    public static func unwatched(_ dependency: String) -> DependencyHealth {
        DependencyHealth(board: nil, key: DependencyBoard.Key(pipeline: "", dependency: dependency))
    }

    /// The dependency answers again.
    public func up() {
        guard isDown.withLock({ down in defer { down = false }; return down }) else { return }
        board?.update(key) { $0.down = max(0, $0.down - 1) }
    }

    /// The dependency does not answer; `reason` says what the stage saw.
    public func down(_ reason: String) {
        let wasDown = isDown.withLock { down in defer { down = true }; return down }
        board?.update(key) { entry in
            if !wasDown { entry.down += 1 }
            entry.reason = reason
        }
    }

    /// Adds `amount` to the count of `event` (a fixed name such as `reconnects`).
    public func count(_ event: String, _ amount: Int = 1) {
        guard amount != 0 else { return }
        board?.update(key) { entry in
            guard entry.counts[event] != nil || entry.counts.count < DependencyBoard.maximumEventsPerEntry else { return }
            entry.counts[event, default: 0] += amount
        }
    }

    deinit {
        let wasDown = isDown.withLock { $0 }
        board?.update(key) { entry in
            entry.watchers = max(0, entry.watchers - 1)
            if wasDown { entry.down = max(0, entry.down - 1) }
        }
    }
}
