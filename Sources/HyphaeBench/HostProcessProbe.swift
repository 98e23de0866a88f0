import Foundation

/// Reads a process's memory and CPU time from /proc (Linux).
public struct HostProcessProbe: Sendable {
    public let pid: Int32

    public init(pid: Int32) {
        self.pid = pid
    }

    public struct Memory: Sendable {
        /// Resident set size now, KiB.
        public var residentKiB: Int
        /// The peak resident set size since the process started (VmHWM), KiB.
        public var peakKiB: Int
    }

    public func memory() -> Memory? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var resident: Int?
        var peak: Int?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("VmRSS:") { resident = Self.kibibytes(line) }
            if line.hasPrefix("VmHWM:") { peak = Self.kibibytes(line) }
        }
        guard let resident, let peak else { return nil }
        return Memory(residentKiB: resident, peakKiB: peak)
    }

    /// User plus system CPU time, in seconds.
    public func cpuSeconds() -> Double? {
        cpuSplit().map { $0.user + $0.system }
    }

    /// The CPU seconds split into user and system.
    public func cpuSplit() -> (user: Double, system: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = text[text.index(after: afterName)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(Self.clockTicksPerSecond)
        return (user / ticks, system / ticks)
    }

    static let clockTicksPerSecond: Int = {
        let value = sysconf(Int32(_SC_CLK_TCK))
        return value > 0 ? value : 100
    }()

    private static func kibibytes(_ line: Substring) -> Int? {
        line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
    }
}

/// Several processes read as one server (nginx's master and its worker): CPU times
/// and resident memory summed. A process that has gone reads as nothing.
public struct ProcessGroupProbe: Sendable {
    public let probes: [HostProcessProbe]

    public init(pids: [Int32]) {
        probes = pids.map(HostProcessProbe.init(pid:))
    }

    public func memory() -> HostProcessProbe.Memory? {
        let memories = probes.compactMap { $0.memory() }
        guard !memories.isEmpty else { return nil }
        return HostProcessProbe.Memory(
            residentKiB: memories.reduce(0) { $0 + $1.residentKiB }, peakKiB: memories.reduce(0) { $0 + $1.peakKiB })
    }

    public func cpuSplit() -> (user: Double, system: Double)? {
        let splits = probes.compactMap { $0.cpuSplit() }
        guard !splits.isEmpty else { return nil }
        return (splits.reduce(0) { $0 + $1.user }, splits.reduce(0) { $0 + $1.system })
    }
}
