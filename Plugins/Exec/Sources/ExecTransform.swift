import HyphaeCore
import NIOCore

/// A transform that is a program in any language: each frame goes to the program's
/// standard input as one JSON line, and the program answers each with exactly one
/// line, a frame or a list of frames (Docs/EXEC.md).
///
/// One frame is in flight at a time, so the program's answers can never be taken
/// for another frame's, the frame timeout has one meaning, and what the host holds
/// for a program that stops reading is one frame.
public struct ExecTransform: TransformStage {
    public struct Configuration: StageConfiguration {
        public var settings: ExecSettings

        public init(reading config: inout ConfigReader) {
            settings = ExecSettings(reading: &config, frameTimeout: (
                default: 5_000,
                summary: "how long the program has to answer a frame, once it has answered its first; a miss counts as a failure"
            ))
        }
    }

    public static let stageType = "exec"
    public static let summary = "runs a program in any language on each frame: a JSON line to its standard input, one JSON line back (Docs/EXEC.md)"

    /// The program answers one frame at a time; a few lines of room are for the
    /// program that writes ahead, which is then caught by its answers' numbers.
    static let lineCapacity = 4

    private var supervisor: ProgramSupervisor
    private var encoder = FrameLineEncoder()
    private let allocator = ByteBufferAllocator()
    private var sequence = 0

    public init(configuration: Configuration, context: StageContext) {
        // The program starts at the first frame: a stage is also made to check that a
        // pipeline can be built, and then dropped without running.
        supervisor = ProgramSupervisor(settings: configuration.settings, context: context, lineCapacity: Self.lineCapacity)
    }

    /// Frames that went to a program that then failed, without an answer.
    public var framesLost: Int { supervisor.framesLost }
    public var restarts: Int { supervisor.restarts }
    /// The running program's process id, if one runs.
    public var programID: Int32? { supervisor.child?.pid }

    public mutating func process(_ frame: Frame, into output: inout [Frame]) async throws {
        let sequence = self.sequence
        self.sequence += 1
        let child = try await supervisor.running()
        let deadline = supervisor.answerDeadline
        child.send(encoder.line(for: frame, sequence: sequence, allocator: allocator), answerWithin: deadline?.timeout)
        let line: ProgramLine?
        do {
            line = try await child.lines.next()
        } catch is LineInbox.Timeout {
            let setting = deadline?.setting ?? "its deadline"
            _ = try await supervisor.stopped(.failure("did not answer frame \(sequence) within \(setting)"), framesLost: 1)
            return
        } catch let violation as ProtocolViolation {
            throw await supervisor.violated(violation)
        } catch {
            await supervisor.stop()
            throw error
        }
        guard let line, line.isTerminated else {
            // Its output ended: it is exiting, whatever its status, with frames still coming.
            let exit = await child.waitForExit()
            _ = try await supervisor.stopped(.failure("\(exit.phrase) before answering frame \(sequence)"), framesLost: 1)
            return
        }
        supervisor.answered()
        let reply: ProgramReply
        do {
            reply = try ProgramReplyParser.parse(line, defaultTimestamp: frame.timestamp)
        } catch {
            throw await supervisor.violated(error)
        }
        if let answered = reply.sequence, answered != sequence {
            throw await supervisor.violated(ProtocolViolation(
                lineNumber: line.number,
                problem: "answers frame \(answered) when frame \(sequence) was waiting; write exactly one line for each frame",
                line: line.bytes))
        }
        output.append(contentsOf: reply.frames)
    }

    /// Closes the program's input and takes what it writes before it exits: frames
    /// it held back, at most `max_line_bytes` of them in total.
    public mutating func finish(into output: inout [Frame]) async throws {
        guard let child = supervisor.child else { return }
        child.closeInput()
        let maxBytes = supervisor.settings.maxLineBytes
        var bytes = 0
        while true {
            let deadline = supervisor.answerDeadline
            let line: ProgramLine?
            do {
                line = try await child.lines.next(within: deadline?.timeout)
            } catch is LineInbox.Timeout {
                await supervisor.stop()
                throw StageError("\(supervisor.programName) did not finish within \(deadline?.setting ?? "its deadline") after its input ended; it was stopped. A program should exit when its standard input closes.")
            } catch let violation as ProtocolViolation {
                throw await supervisor.violated(violation)
            } catch {
                await supervisor.stop()
                throw error
            }
            guard let line else { break }
            bytes += line.bytes.readableBytes
            if bytes > maxBytes {
                throw await supervisor.violated(ProtocolViolation(
                    lineNumber: line.number,
                    problem: "takes what the program wrote after its input ended over max_line_bytes (\(maxBytes) bytes in total)",
                    line: line.bytes))
            }
            do {
                output.append(contentsOf: try ProgramReplyParser.parse(line, defaultTimestamp: WallClock.nowMilliseconds()).frames)
            } catch {
                throw await supervisor.violated(error)
            }
        }
        let exit = await child.waitForExit()
        supervisor.exited(exit)
        guard exit.isSuccess else {
            throw StageError("\(supervisor.programName) \(exit.phrase) after its input ended, so the frames it held back may be lost. Its standard error is in the host's log.")
        }
    }
}
