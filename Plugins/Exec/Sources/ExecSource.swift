import HyphaeCore
import NIOCore

/// A source that is a program in any language: every line it writes on standard
/// output is a frame (or a list of frames), taken as fast as the pipeline takes
/// them (Docs/EXEC.md). A program that writes faster is held back by its pipe.
public struct ExecSource: SourceStage {
    public struct Configuration: StageConfiguration {
        public var settings: ExecSettings
        public var finite: Bool

        public init(reading config: inout ConfigReader) {
            settings = ExecSettings(reading: &config, frameTimeout: (
                default: nil,
                summary: "the longest the program may go without writing a line, once it has written its first; a miss counts as a failure (default: no limit)"
            ))
            finite = config.bool("finite", default: false, summary: "whether the program ends its stream by itself, exiting with status 0 after its last frame; finite pipelines run once per subscriber")
        }
    }

    public static let stageType = "exec_source"
    public static let summary = "runs a program in any language whose standard output, one JSON line per frame, is the stream (Docs/EXEC.md)"

    public static func isFinite(_ configuration: Configuration) -> Bool {
        configuration.finite
    }

    /// Lines the host holds for the pipeline; beyond them the program's pipe fills and its writes wait.
    static let lineCapacity = 16

    private var supervisor: ProgramSupervisor
    /// Frames of a line that carried several, handed out one per `next()`.
    private var pending: [Frame] = []
    private var pendingIndex = 0
    private var complete = false

    public init(configuration: Configuration, context: StageContext) {
        supervisor = ProgramSupervisor(settings: configuration.settings, context: context, lineCapacity: Self.lineCapacity)
    }

    public var framesLost: Int { supervisor.framesLost }
    public var restarts: Int { supervisor.restarts }
    public var programID: Int32? { supervisor.child?.pid }

    public mutating func next() async throws -> Frame? {
        while true {
            if pendingIndex < pending.count {
                pendingIndex += 1
                return pending[pendingIndex - 1]
            }
            pending.removeAll(keepingCapacity: true)
            pendingIndex = 0
            if complete { return nil }

            let child = try await supervisor.running()
            let deadline = supervisor.answerDeadline
            let line: ProgramLine?
            do {
                line = try await child.lines.next(within: deadline?.timeout)
            } catch is LineInbox.Timeout {
                _ = try await supervisor.stopped(.failure("wrote no frame within \(deadline?.setting ?? "its deadline")"), framesLost: 0)
                continue
            } catch let violation as ProtocolViolation {
                throw await supervisor.violated(violation)
            } catch {
                await supervisor.stop()
                throw error
            }
            guard let line else {
                let exit = await child.waitForExit()
                let stop: ProgramSupervisor.Stop = exit.isSuccess ? .clean(exit.phrase) : .failure(exit.phrase)
                if try await supervisor.stopped(stop, framesLost: 0) == .complete {
                    complete = true
                }
                continue
            }
            if !line.isTerminated {
                // A last line without a line break is a frame only if the program meant
                // to end there; after a crash it is half a frame.
                let exit = await child.waitForExit()
                if !exit.isSuccess {
                    _ = try await supervisor.stopped(.failure("\(exit.phrase) in the middle of a line"), framesLost: 1)
                    continue
                }
            }
            supervisor.answered()
            do {
                pending = try ProgramReplyParser.parse(line, defaultTimestamp: WallClock.nowMilliseconds()).frames
            } catch {
                throw await supervisor.violated(error)
            }
        }
    }
}

public enum ExecPlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(ExecTransform.self)
        registry.register(ExecSource.self)
    }
}
