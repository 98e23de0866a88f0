import HyphaeCore
import Logging
import NIOCore

/// Counts restarts over a sliding window and spaces them out: at most `maxRestarts`
/// within `window`, each after a wait that doubles with every restart already in the
/// window, up to `ceiling` (or `backoff` itself when that is longer).
struct RestartBudget {
    static let ceiling: Duration = .seconds(10)

    let maxRestarts: Int
    let window: Duration
    let backoff: Duration
    /// When the restarts still inside the window happened; never more than `maxRestarts`.
    private var recent: [ContinuousClock.Instant] = []

    init(maxRestarts: Int, window: Duration, backoff: Duration) {
        self.maxRestarts = maxRestarts
        self.window = window
        self.backoff = backoff
    }

    /// The wait before a restart at `now`, or nil when it would be one too many.
    mutating func nextRestart(at now: ContinuousClock.Instant) -> Duration? {
        recent.removeAll { now - $0 >= window }
        guard recent.count < maxRestarts else { return nil }
        // Past 2^20 the ceiling has long been reached; the cap keeps the shift defined.
        let delay = min(backoff * (1 << min(recent.count, 20)), max(backoff, Self.ceiling))
        recent.append(now)
        return delay
    }
}

/// Keeps a stage's program running as its restart policy says, and reports what
/// happens to it: every start, failure and loss goes to the log with the pipeline's
/// name; giving up becomes the `StageError` that ends the stream for subscribers.
struct ProgramSupervisor {
    /// Why the program stopped, in words that follow "the program 'x' ...".
    struct Stop {
        var reason: String
        /// A crash, a kill or a missed deadline; a clean exit is not one.
        var isFailure: Bool

        static func failure(_ reason: String) -> Stop { Stop(reason: reason, isFailure: true) }
        static func clean(_ reason: String) -> Stop { Stop(reason: reason, isFailure: false) }
    }

    enum Next {
        /// The program starts again at the next `running()`.
        case restart
        /// The policy does not restart a program that ended cleanly: the stream is complete.
        case complete
    }

    let settings: ExecSettings
    private let pipeline: String
    private let logger: Logger
    private let lineCapacity: Int
    private(set) var child: ChildProcess?
    private var budget: RestartBudget
    private var restartAt: ContinuousClock.Instant?
    /// Whether the running program has written a line yet; until then the startup timeout applies.
    private var hasAnswered = false
    private(set) var framesLost = 0
    private(set) var restarts = 0

    init(settings: ExecSettings, context: StageContext, lineCapacity: Int) {
        self.settings = settings
        pipeline = context.pipeline
        var logger = context.logger
        logger[metadataKey: "pipeline"] = "\(context.pipeline)"
        logger[metadataKey: "instance"] = "\(context.instance)"
        self.logger = logger
        self.lineCapacity = lineCapacity
        budget = RestartBudget(
            maxRestarts: settings.maxRestarts,
            window: .milliseconds(settings.restartWindowMilliseconds),
            backoff: .milliseconds(settings.restartBackoffMilliseconds))
    }

    /// The program's name for messages: "the program 'python3 smooth.py' of pipeline 'p'".
    var programName: String {
        "the program '\(settings.commandLine)' of pipeline '\(pipeline)'"
    }

    /// How long the program may take for its next line, and the setting that says so.
    var answerDeadline: (timeout: TimeAmount, setting: String)? {
        if !hasAnswered {
            return (.milliseconds(Int64(settings.startupTimeoutMilliseconds)), "startup_timeout_ms (\(settings.startupTimeoutMilliseconds) ms)")
        }
        return settings.frameTimeoutMilliseconds.map { (.milliseconds(Int64($0)), "frame_timeout_ms (\($0) ms)") }
    }

    mutating func answered() {
        hasAnswered = true
    }

    /// The running program: started, or started again once the restart's wait is
    /// over. A program that cannot be started counts as a failure.
    mutating func running() async throws -> ChildProcess {
        while true {
            if let child { return child }
            if let restartAt {
                try await ContinuousClock().sleep(until: restartAt)
                self.restartAt = nil
            }
            do {
                let child = try await ChildProcess.launch(settings, logger: logger, lineCapacity: lineCapacity)
                self.child = child
                hasAnswered = false
                logger.info("exec program started", metadata: [
                    "event": "exec_started", "pid": "\(child.pid)", "command": "\(settings.commandLine)",
                ])
                return child
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                _ = try await stopped(.failure("could not be started (\(error))"), framesLost: 0)
            }
        }
    }

    /// Records that the program stopped or must stop: stops it if it still runs,
    /// logs why with the frames lost, and restarts it or ends the stream as the
    /// policy and the budget say. Throws the stream's error when it gives up.
    mutating func stopped(_ stop: Stop, framesLost lost: Int) async throws -> Next {
        let pid = child?.pid
        if let child { _ = await child.stop() }
        child = nil
        framesLost += lost
        var metadata: Logger.Metadata = [
            "event": stop.isFailure ? "exec_failed" : "exec_exited",
            "command": "\(settings.commandLine)",
            "reason": "\(stop.reason)",
            "frames_lost": "\(lost)",
            "frames_lost_total": "\(framesLost)",
        ]
        if let pid { metadata["pid"] = "\(pid)" }
        let loss = framesLost > 0 ? " \(framesLost) frame\(framesLost == 1 ? "" : "s") lost so far." : ""

        let restartsByPolicy = settings.restart == .always || (settings.restart == .onFailure && stop.isFailure)
        guard restartsByPolicy else {
            if !stop.isFailure {
                logger.info("exec program \(stop.reason); the stream is complete", metadata: metadata)
                return .complete
            }
            logger.error("exec program \(stop.reason); not restarting (restart: never)", metadata: metadata)
            throw StageError("\(programName) \(stop.reason), and restart is 'never'.\(loss) Its standard error is in the host's log.")
        }
        guard let delay = budget.nextRestart(at: .now) else {
            metadata["restarts"] = "\(self.restarts)"
            logger.error("exec program \(stop.reason); giving up after \(self.restarts) restarts", metadata: metadata)
            throw StageError(
                "\(programName) \(stop.reason), after \(self.restarts) restart\(self.restarts == 1 ? "" : "s"); max_restarts allows \(settings.maxRestarts) within restart_window_ms (\(settings.restartWindowMilliseconds) ms).\(loss) Its standard error is in the host's log.")
        }
        self.restarts += 1
        restartAt = .now + delay
        let delayMilliseconds = delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
        metadata["restart"] = "\(self.restarts)"
        metadata["restart_in_ms"] = "\(delayMilliseconds)"
        let level: Logger.Level = stop.isFailure ? .warning : .info
        logger.log(level: level, "exec program \(stop.reason); restarting in \(delayMilliseconds) ms", metadata: metadata)
        return .restart
    }

    /// Stops the program for a line that breaks the protocol, logs it, and returns
    /// the error that ends the stream. Not restarted: the same program would write
    /// the same line again.
    mutating func violated(_ violation: ProtocolViolation) async -> StageError {
        let pid = child?.pid
        if let child { _ = await child.stop() }
        child = nil
        logger.error("exec program broke the protocol: \(violation)", metadata: [
            "event": "exec_protocol_error", "command": "\(settings.commandLine)", "pid": "\(pid.map(String.init) ?? "-")",
            "line": "\(violation.lineNumber)",
        ])
        return StageError("\(programName) broke the exec protocol: \(violation). It must write one JSON object per line on standard output (see Docs/EXEC.md) and log to standard error.")
    }

    /// Stops the program, without a restart: the run is ending.
    mutating func stop() async {
        if let child { _ = await child.stop() }
        child = nil
    }

    /// Forgets a program that has exited by itself at the end of its input.
    mutating func exited(_ exit: ProgramExit) {
        logger.info("exec program exited at the end of its input", metadata: [
            "event": "exec_exited", "command": "\(settings.commandLine)", "reason": "\(exit)",
            "pid": "\(child.map { String($0.pid) } ?? "-")", "frames_lost_total": "\(framesLost)",
        ])
        child = nil
    }
}

extension ProgramExit {
    /// How the program ended, as words that follow "the program 'x'".
    var phrase: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signalled: "was killed by \(self)"
        case .unknown: "exited (its status was collected by someone else)"
        }
    }
}
