import ArgumentParser
import Foundation
import HyphaeBench
import HyphaeCore

struct BenchRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Load a running host with WebSocket subscribers and measure what they receive.",
        discussion: """
            Opens --clients connections (source addresses spread over 127.0.0.x), each sending init,
            auth (with --api-key or MFN_API_KEY, HMAC-signed) and one subscribe, then counts the data
            frames that arrive: frames per second, latency (receive time minus the frame's timestamp)
            as percentiles, sequence gaps (= dropped frames), errors and disconnects, over a window of
            --duration seconds after --warm-up. With --host-pid it reads the host's CPU time and
            resident memory from /proc. Prints a table, then one JSON line. Use a release build.
            Example: hyphae bench run --clients 1000 --param rate=100 --param payload_bytes=256
            With --tls the clients connect with wss:// (and read the counters with https://),
            trusting the system's CAs or only --ca-file; the connect time then includes the handshake.
            With --raw URL the clients load any WebSocket server that sends, once upgraded, text frames
            that are JSON objects with `sequence` and `timestamp` (ms since the epoch), and expects
            nothing from its clients (nginx with nchan, for one): the same clients, threads and
            figures, with nothing sent but pongs and the close; a frame without both fields counts
            as an error. Example: hyphae bench run --raw ws://127.0.0.1:8080/sub --clients 1000
            --host-pid <master> --host-pid <worker>
            """
    )

    @Option(help: "The host's address.") var host = "127.0.0.1"
    @Option(help: "The host's port.") var port = 8080
    @Option(help: "The WebSocket path (a pipeline's own path, or /ws).") var path = "/ws"
    @Option(help: "The pipeline to subscribe to (stream_type).") var pipeline = "ticker"
    @OptionGroup var params: ParamArguments
    @Option(name: .customLong("param-per-client"), help: "A numeric param that each client sets to its value (or 0) plus its index, e.g. seed (repeatable).")
    var paramsPerClient: [String] = []
    @Option(help: "How many clients.") var clients = 100
    @Option(help: "New connections per second.") var ramp = 1000.0
    @Option(help: "Seconds measured.") var duration = 10.0
    @Option(help: "Seconds between the last subscription and the measured window.") var warmUp = 2.0
    @Option(help: "shared: every client uses stream id 'bench'; unique: 'bench-<index>'.") var streamIds = "shared"
    @Option(help: "The share of clients (0 to 1) that stop reading once subscribed.") var slowShare = 0.0
    @Option(help: "Seconds after which the slow clients read again (default: never).") var slowResumeAfter: Double?
    @OptionGroup var credentials: APIKeyArguments
    @Flag(help: "Authenticate without the HMAC signature.") var unsigned = false
    @Option(help: "The bench's event loop threads.") var threads = 1
    @Flag(help: "End the window when every subscription has received stream_end (finite pipelines), or after --duration.")
    var untilStreamsEnd = false
    @Option(help: "The host's process id: report its CPU time and resident memory (repeatable: the processes are summed).")
    var hostPid: [Int32] = []
    @Option(help: ArgumentHelp("Load a server that speaks no protocol at this ws:// or wss:// URL (see above); replaces --host, --port, --path and --tls.", valueName: "url"))
    var raw: String?
    @Option(help: "Source addresses to spread over: 127.0.0.1 to 127.0.0.N.") var sourceAddresses = 250
    @Flag(help: "Do not read the pipeline's counters from GET /pipelines.") var noHostCounters = false
    @Option(help: "A name for this run in the report.") var label: String?
    @Flag(help: "Connect with TLS (wss://), to a host started with --tls-cert and --tls-key.") var tls = false
    @Option(help: ArgumentHelp("With --tls: trust only the certificates in this PEM file (a private CA, or the host's self-signed certificate).", valueName: "file"))
    var caFile: String?

    func run() async throws {
        var plan = LoadPlan()
        plan.host = host
        plan.port = port
        plan.path = path
        plan.pipeline = pipeline
        plan.params = params.untypedValues
        plan.paramsPerClient = paramsPerClient
        plan.clients = clients
        plan.rampPerSecond = ramp
        plan.durationSeconds = duration
        plan.warmUpSeconds = warmUp
        guard let mode = LoadPlan.StreamIDMode(rawValue: streamIds) else {
            throw ValidationError("--stream-ids is 'shared' or 'unique', found '\(streamIds)'")
        }
        plan.streamIDMode = mode
        plan.slowShare = slowShare
        plan.slowResumeAfterSeconds = slowResumeAfter
        plan.apiKey = credentials.key()
        plan.signAuth = !unsigned
        plan.threads = threads
        plan.untilStreamsEnd = untilStreamsEnd
        plan.hostPIDs = hostPid
        plan.sourceAddressCount = sourceAddresses
        plan.readHostCounters = !noHostCounters
        plan.usesTLS = tls
        plan.caFile = caFile
        if let raw {
            do {
                plan.target(raw: try RawTarget(url: raw))
            } catch {
                throw ValidationError(error.description)
            }
        }
        do {
            try plan.validate()
        } catch {
            throw ValidationError(error.description)
        }
        if let limit = OpenFileLimit.raiseToHardLimit(), limit < clients + 64 {
            StandardError.write("warning: the open-files limit is \(limit), below the \(clients) connections asked for; raise it with ulimit -n")
        }
        let generator: LoadGenerator
        do {
            generator = try LoadGenerator(plan: plan) { StandardError.write($0) }
        } catch {
            throw CommandFailure(error.description)
        }
        var report = try await generator.run()
        report.label = label
        print(report.table)
        print(report.json.jsonText)
    }
}

struct BenchCeiling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ceiling",
        abstract: "Serve the machine's raw fan-out ceiling: pre-encoded frames, several per write, to every subscriber.",
        discussion: """
            A minimal WebSocket server that answers init, auth and subscribe with fixed replies and
            writes frames shaped like the ticker pipeline's (--payload-bytes of padding) to every
            subscribed socket: each tick encodes --frames-per-write consecutive frames once, into one
            buffer, and each socket takes it in one write and one flush. A socket that is not
            writable skips the tick. Point `hyphae bench run` at it to compare the host with it.
            Runs until SIGINT/SIGTERM, or for --duration seconds.
            """
    )

    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port (0: any free one, printed at start).") var port = 8090
    @Option(help: "Frames per second; 0 writes as fast as the loops go.") var rate = 0.0
    @Option(help: "Padding bytes per frame, as the ticker's payload_bytes.") var payloadBytes = 256
    @Option(help: "Frames per socket write, 1 to 256 (default: 16 at --rate 0, else 1); at a rate, ticks come that many times less often.")
    var framesPerWrite: Int?
    @Flag(help: "Accept on a thread of its own and write frames with send(2) on each socket, past NIO's channel write path (IPv4 only).")
    var directWrites = false
    @Option(help: "Event loop threads (default: the number of cores).") var threads: Int?

    func validate() throws {
        if let framesPerWrite, !CeilingServer.Settings.framesPerWriteRange.contains(framesPerWrite) {
            throw ValidationError("--frames-per-write must be 1 to 256, found \(framesPerWrite)")
        }
        guard rate >= 0, rate.isFinite else { throw ValidationError("--rate must be 0 (as fast as possible) or a positive number of frames per second, found \(rate)") }
        guard payloadBytes >= 0, payloadBytes <= 1 << 20 else { throw ValidationError("--payload-bytes must be 0 to 1048576, found \(payloadBytes)") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be 1 to 256, found \(threads)") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0 to 65535, found \(port)") }
        if let duration, !(duration.isFinite && duration > 0) { throw ValidationError("--duration must be a positive number of seconds, found \(duration)") }
    }
    @Option(help: "Seconds to serve; default: until a signal.") var duration: Double?

    func run() async throws {
        OpenFileLimit.raiseToHardLimit()
        let settings = CeilingServer.Settings(
            host: host, port: port, rate: rate, payloadBytes: payloadBytes, framesPerWrite: framesPerWrite,
            directWrites: directWrites, threads: threads)
        let server = CeilingServer(settings: settings)
        let boundPort = try await server.start()
        StandardError.write("hyphae bench ceiling serving on ws://\(host):\(boundPort) (rate \(rate == 0 ? "as fast as possible" : "\(rate)/s"), payload \(payloadBytes) B, \(settings.effectiveFramesPerWrite) frames per write\(directWrites ? ", direct writes" : ""))")
        if let duration {
            try await Task.sleep(for: .seconds(duration))
        } else {
            await waitForShutdownSignal()
        }
        let totals = await server.totals()
        await server.stop()
        print(#"{"bench":"ceiling","frames_written":\#(totals.framesWritten),"frames_skipped":\#(totals.framesSkipped),"writes":\#(totals.writes),"direct_writes":\#(totals.directWrites)}"#)
    }
}
