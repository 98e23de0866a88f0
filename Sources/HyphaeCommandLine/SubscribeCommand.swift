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
            stream_end, after --frames data frames, or on Ctrl-C. When the connection drops or the
            host shuts down, it connects again (first to the same URL, which holds the history,
            unless its host is shutting down; then to the next URL in turn when several are given;
            waiting 0.1 s, then twice as long each time up to 5 s) and resumes where it stopped: the host
            sends the frames it missed when it still holds them (PROTOCOL.md, Resume), and no frame
            is printed twice. Exits with status 1, saying why, when no URL can be reached at the
            start, the host refuses the key or the subscription, the stream ends before it is
            complete, or --reconnect-attempts attempts in a row fail.
            """
    )

    @Argument(
        help: "The WebSocket URL, e.g. ws://127.0.0.1:8080/ws, wss://host.example/ws or a pipeline's own path; give several to fall back on the next when one fails.",
        transform: { try WebSocketURL(parsing: $0) }
    )
    var urls: [WebSocketURL]

    @Option(help: "Attempts in a row to reconnect (and resume) after the connection is lost; 0: stop at the first loss.")
    var reconnectAttempts = 10

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
        if urls.isEmpty { throw ValidationError("give at least one URL, e.g. ws://127.0.0.1:8080/ws") }
        if caFile != nil, !urls.contains(where: \.isSecure) { throw ValidationError("--ca-file is for wss:// URLs; \(url) is plain ws://") }
        if reconnectAttempts < 0 || reconnectAttempts > 1_000_000 { throw ValidationError("--reconnect-attempts must be from 0 to 1000000") }
    }

    /// The first URL, which messages about the whole run name.
    private var url: WebSocketURL { urls[0] }

    func run() async throws {
        let subscriber = ResumingSubscriber(
            endpoints: urls.map { HostEndpoint(host: $0.host, port: $0.port, path: $0.path, isSecure: $0.isSecure) },
            streamID: streamID, pipeline: pipeline ?? stream, params: params.untypedValues,
            tls: try makeTLS(), apiKey: credentials.key(), policy: ReconnectPolicy(maxAttempts: reconnectAttempts))
        do {
            try await subscriber.start()
        } catch let refusal as SubscriberRefusal {
            throw Self.failure(refusal)
        } catch let error as ClientError where error.description.contains("TLS handshake") {
            let advice = caFile == nil ? "; for a host with a private or self-signed certificate, give its CA certificate with --ca-file" : ""
            throw CommandFailure("cannot connect to \(urls.map(\.description).joined(separator: ", ")): \(error)\(advice)")
        } catch {
            throw CommandFailure("cannot connect to \(urls.map(\.description).joined(separator: ", ")): \(error); check that `hyphae serve` is running there and that the host, port and path are right")
        }
        do {
            try await printMessages(from: subscriber)
        } catch {
            // Leave as a client should, so that the host records a closed connection, not a lost one.
            await subscriber.close()
            throw error
        }
    }

    private func makeTLS() throws(CommandFailure) -> ClientTLS? {
        guard urls.contains(where: \.isSecure) else { return nil }
        do {
            return try caFile.map { try ClientTLS.trusting(certificatesIn: $0) } ?? .systemTrust()
        } catch {
            throw CommandFailure("\(error)")
        }
    }

    /// What a refusal of the host means to the user, and what to do about it.
    private static func failure(_ refusal: SubscriberRefusal) -> CommandFailure {
        switch refusal.message["type"]?.stringValue.map({ MessageType($0) }) {
        case .authFailed:
            CommandFailure("authentication failed: \(reason(in: refusal.message)); check the key given with --api-key or MFN_API_KEY, and that this machine's clock is right (the host allows a few minutes of difference)")
        case .subscribeFailed:
            CommandFailure("the host refused the subscription: \(reason(in: refusal.message))\(advice(forRefusal: refusal.message))")
        default:
            CommandFailure("the host answered auth with \(refusal.text), not auth_success or auth_failed; is it a Hyphae host?")
        }
    }

    /// Prints every message until the stream is complete or `--frames` data frames have come.
    private func printMessages(from subscriber: ResumingSubscriber) async throws(CommandFailure) {
        var dataFrames = 0
        while true {
            let event: SubscriberEvent
            do {
                // Heartbeats come every 30 s by default, so an hour of silence means the connection is gone.
                event = try await subscriber.next(timeout: .seconds(3600))
            } catch let refusal as SubscriberRefusal {
                throw Self.failure(refusal)
            } catch {
                throw CommandFailure("the connection to \(subscriber.endpoint) failed: \(error)")
            }
            switch event {
            case .reconnected(let endpoint, let attempt, let reason):
                FileHandle.standardError.write(Data("hyphae subscribe: \(reason); reconnected to \(endpoint) (attempt \(attempt))\n".utf8))
            case .message(let message, let text):
                FileHandle.standardOutput.write(Data((text + "\n").utf8))
                switch message["type"]?.stringValue.map({ MessageType($0) }) {
                case .heartbeat?, .subscribeSuccess?, .streamReloaded?, .error?:
                    continue
                case .streamEnd?:
                    let payload = message["payload"]?.objectValue
                    let reason = payload?["reason"]?.stringValue
                    if reason == StreamEndReason.complete.rawValue { return }
                    // A host shutting down is followed by a reconnection, unless reconnecting is off.
                    if reason == StreamEndReason.serverShutdown.rawValue, reconnectAttempts > 0 { continue }
                    throw CommandFailure("the stream ended before it was complete: \(Self.reason(in: message, codeField: "reason"))")
                default:
                    dataFrames += 1
                    if let frames, dataFrames >= frames {
                        await subscriber.close()
                        return
                    }
                }
            }
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
