import ArgumentParser
import Foundation
import HyphaeClient
import HyphaeCore

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe to a stream on a running host and print its messages as JSON lines.",
        discussion: """
            Example: hyphae subscribe ws://127.0.0.1:8080/ws --stream ticker --param rate=5
            Authenticates (signed) when --api-key is given. Stops at stream_end, after --frames
            data frames, or on Ctrl-C.
            """
    )

    @Argument(help: "The WebSocket URL, e.g. ws://127.0.0.1:8080/ws or a pipeline's own path.")
    var url: String

    @Option(help: "The pipeline to subscribe to (stream_type); may be left out on a pipeline's own path.")
    var stream: String?

    @OptionGroup var params: ParamArguments

    @Option(help: "The API key to authenticate with.")
    var apiKey: String?

    @Option(help: "The stream_id to subscribe under.")
    var streamID = "cli"

    @Option(help: "Stop after this many data frames.")
    var frames: Int?

    func run() async throws {
        guard let components = URLComponents(string: url), components.scheme == "ws", let host = components.host else {
            throw ValidationError("expected a URL like ws://127.0.0.1:8080/ws, found '\(url)'")
        }
        let client = try await ProtocolClient.connect(host: host, port: components.port ?? 80, path: components.path.isEmpty ? "/ws" : components.path)
        if let apiKey {
            try await client.send(type: "auth", payload: ProtocolClient.authPayload(apiKey: apiKey, signed: true))
            let reply = try await client.nextMessage()
            guard reply["type"]?.stringValue == "auth_success" else {
                throw ValidationError("authentication failed: \(JSONValue.object(reply).jsonText)")
            }
        }
        var payload: JSONObject = ["stream_id": .string(streamID)]
        if let stream { payload["stream_type"] = .string(stream) }
        let given = params.untypedValues
        if !given.isEmpty { payload["params"] = .object(given) }
        try await client.send(type: "subscribe", payload: payload)
        var dataFrames = 0
        while true {
            switch try await client.next(timeout: .seconds(3600)) {
            case .message(_, let text):
                FileHandle.standardOutput.write(Data((text + "\n").utf8))
                let message = try? JSONParser.parse(text).objectValue
                let type = message?["type"]?.stringValue ?? ""
                if type == "subscribe_failed" { throw ExitCode(1) }
                if type == "stream_end" { return }
                if !["heartbeat", "subscribe_success", "error", "stream_reloaded"].contains(type) {
                    dataFrames += 1
                    if let frames, dataFrames >= frames {
                        try await client.send(type: "close")
                        return
                    }
                }
                if type == "heartbeat" { try await client.send(type: "pong") }
            case .closeFrame(let code, let reason):
                StandardError.write("closed by the server: \(code) \(reason)")
                return
            case .disconnected:
                return
            }
        }
    }
}
