import ArgumentParser
import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeProtocol

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe to a stream on a running host and print its messages as JSON lines.",
        discussion: """
            Example: hyphae subscribe ws://127.0.0.1:8080/ws --pipeline ticker --param rate=5
            A wss:// URL speaks TLS and checks the host's certificate against the system's CAs,
            or only against --ca-file (a private CA, or the host's self-signed certificate).
            Authenticates (signed) with --api-key, or with MFN_API_KEY when that is set. Stops at
            stream_end, after --frames data frames, or on Ctrl-C. Exits with status 1, saying why,
            when the host cannot be reached, refuses the key or the subscription, or ends the stream
            or the connection before the stream is complete.
            """
    )

    @Argument(
        help: "The WebSocket URL, e.g. ws://127.0.0.1:8080/ws, wss://host.example/ws or a pipeline's own path.",
        transform: { try WebSocketURL(parsing: $0) }
    )
    var url: WebSocketURL

    @Option(help: "The pipeline to subscribe to (stream_type); may be left out on a pipeline's own path.")
    var pipeline: String?

    /// What `--pipeline` was called before it matched `bench run --pipeline`; scripts still use it.
    @Option(help: .hidden)
    var stream: String?

    @OptionGroup var params: ParamArguments

    @OptionGroup var credentials: APIKeyArguments

    @Option(help: "The stream_id to subscribe under.")
    var streamID = "cli"

    @Option(help: "Stop after this many data frames.")
    var frames: Int?

    @Option(help: ArgumentHelp("For wss://: trust only the certificates in this PEM file (a private CA, or the host's self-signed certificate).", valueName: "file"))
    var caFile: String?

    func validate() throws {
        if let pipeline, let stream, pipeline != stream {
            throw ValidationError("--stream is the old name of --pipeline; give only --pipeline")
        }
        if let frames, frames < 1 { throw ValidationError("--frames must be at least 1") }
        if caFile != nil, !url.isSecure { throw ValidationError("--ca-file is for wss:// URLs; \(url) is plain ws://") }
    }

    func run() async throws {
        let client = try await connect()
        do {
            if let key = credentials.key() {
                try await authenticate(client, key: key)
            }
            let subscribe = ClientMessage.subscribe(streamID: streamID, pipeline: pipeline ?? stream, params: params.untypedValues)
            try await exchange("while subscribing") { try await client.send(subscribe) }
            try await printMessages(from: client)
        } catch {
            // Leave as a client should, so that the host records a closed connection, not a lost one.
            try? await client.send(.close)
            throw error
        }
    }

    private func connect() async throws(CommandFailure) -> ProtocolClient {
        let tls: ClientTLS?
        do {
            tls = try url.isSecure ? caFile.map { try ClientTLS.trusting(certificatesIn: $0) } ?? .systemTrust() : nil
        } catch {
            throw CommandFailure("\(error)")
        }
        do {
            return try await ProtocolClient.connect(host: url.host, port: url.port, path: url.path, tls: tls)
        } catch let error as ClientError where error.description.contains("TLS handshake") {
            let advice = caFile == nil ? "; for a host with a private or self-signed certificate, give its CA certificate with --ca-file" : ""
            throw CommandFailure("cannot connect to \(url): \(error)\(advice)")
        } catch {
            throw CommandFailure("cannot connect to \(url): \(error); check that `hyphae serve` is running there and that the host, port and path are right")
        }
    }

    private func authenticate(_ client: ProtocolClient, key: String) async throws(CommandFailure) {
        let reply = try await exchange("while authenticating") {
            try await client.send(.auth(apiKey: key, timestamp: Int64(WallClock.nowMilliseconds()), signed: true))
            return try await client.nextMessage()
        }
        switch reply["type"]?.stringValue.map({ MessageType($0) }) {
        case .authSuccess:
            return
        case .authFailed:
            throw CommandFailure("authentication failed: \(Self.reason(in: reply)); check the key given with --api-key or MFN_API_KEY, and that this machine's clock is right (the host allows a few minutes of difference)")
        default:
            throw CommandFailure("the host answered auth with \(JSONValue.object(reply).jsonText), not auth_success or auth_failed; is \(url) a Hyphae host?")
        }
    }

    /// Prints every message until the stream is complete or `--frames` data frames have come.
    private func printMessages(from client: ProtocolClient) async throws(CommandFailure) {
        var dataFrames = 0
        while true {
            // Heartbeats come every 30 s by default, so an hour of silence means the connection is gone.
            switch try await exchange("while reading", { try await client.next(timeout: .seconds(3600)) }) {
            case .message(_, let text):
                FileHandle.standardOutput.write(Data((text + "\n").utf8))
                guard let message = (try? JSONParser.parse(text))?.objectValue, let type = message["type"]?.stringValue else {
                    throw CommandFailure("the host sent something that is not a protocol message: \(text.prefix(200)); is \(url) a Hyphae host?")
                }
                switch MessageType(type) {
                case .heartbeat:
                    try await exchange("while answering a heartbeat") { try await client.send(.pong) }
                case .subscribeSuccess, .streamReloaded, .error:
                    continue
                case .subscribeFailed:
                    throw CommandFailure("the host refused the subscription: \(Self.reason(in: message))\(Self.advice(forRefusal: message))")
                case .streamEnd:
                    let payload = message["payload"]?.objectValue
                    guard payload?["reason"]?.stringValue == StreamEndReason.complete.rawValue else {
                        throw CommandFailure("the stream ended before it was complete: \(Self.reason(in: message, codeField: "reason"))")
                    }
                    return
                default:
                    dataFrames += 1
                    if let frames, dataFrames >= frames {
                        try await exchange("while closing") { try await client.send(.close) }
                        return
                    }
                }
            case .closeFrame(let code, let reason):
                throw CommandFailure("the host closed the connection with \(code)\(reason.isEmpty ? "" : " (\(reason))") before the stream was complete")
            case .disconnected:
                throw CommandFailure("the connection to \(url) dropped before the stream was complete; check that the host is still running")
            }
        }
    }

    /// Runs one exchange with the host; a failure says what was going on and where.
    private func exchange<Result>(_ activity: String, _ body: () async throws -> Result) async throws(CommandFailure) -> Result {
        do {
            return try await body()
        } catch {
            throw CommandFailure("the connection to \(url) failed \(activity): \(error)")
        }
    }

    /// "message (CODE)" from a reply's payload.
    private static func reason(in reply: JSONObject, codeField: String = "error_code") -> String {
        let payload = reply["payload"]?.objectValue
        let message = payload?["message"]?.stringValue ?? JSONValue.object(reply).jsonText
        return payload?[codeField]?.stringValue.map { "\(message) (\($0))" } ?? message
    }

    /// What to do about the refusals the host's message cannot know the remedy for.
    private static func advice(forRefusal reply: JSONObject) -> String {
        switch reply["payload"]?.objectValue?["error_code"]?.stringValue.map(ErrorCode.init(rawValue:)) {
        case .notAuthenticated: "; this host requires a key: give --api-key or set MFN_API_KEY"
        case .forbidden: "; use a key whose 'pipelines' list includes this pipeline"
        default: ""
        }
    }
}

/// A host's WebSocket URL as given on the command line: `ws://HOST[:PORT][/PATH]`, or `wss://` for TLS.
struct WebSocketURL: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var path: String
    /// wss://: TLS.
    var isSecure = false

    init(parsing text: String) throws(WebSocketURLError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), ["ws", "wss"].contains(scheme),
            let host = components.host, !host.isEmpty
        else {
            throw WebSocketURLError()
        }
        self.host = host
        isSecure = scheme == "wss"
        port = components.port ?? (isSecure ? 443 : 80)
        path = components.path.isEmpty ? "/ws" : components.path
    }

    var description: String {
        "\(isSecure ? "wss" : "ws")://\(host):\(port)\(path)"
    }
}

struct WebSocketURLError: Error, CustomStringConvertible {
    var description: String {
        "expected a URL like ws://127.0.0.1:8080/ws, or wss://host.example:8443/ws for TLS"
    }
}
