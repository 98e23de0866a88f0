import Foundation
import HyphaeCore
import Logging
import NIOCore

/// A client API key: the secret, an id to show instead of it, and the pipelines it may read.
public struct APIKey: Sendable, Equatable {
    public var secret: String
    public var id: String?
    /// Nil lets the key read every pipeline.
    public var pipelines: Set<String>?

    public init(secret: String, id: String? = nil, pipelines: Set<String>? = nil) {
        self.secret = secret
        self.id = id
        self.pipelines = pipelines
    }

    /// What logs and `auth_success` show: the configured id, or the first 4 characters.
    public var displayID: String {
        id ?? (String(secret.prefix(4)) + "…")
    }
}

/// Everything `hyphae serve` is configured with. Values come from, in rising
/// precedence: the defaults here, the host config file, the environment, the flags.
public struct HostConfiguration: Sendable, Equatable {
    public enum DeploymentEnvironment: String, Sendable, CaseIterable {
        case dev
        case staging
        case prod
    }

    public enum LogFormat: String, Sendable, CaseIterable {
        /// One JSON object per line, for log stores.
        case json
        /// One readable line per record, for people.
        case text
        /// `text` when standard error is a terminal, `json` otherwise (a file, a pipe, journald).
        case auto

        /// `json` or `text`: what `auto` means where standard error is, or is not, a terminal.
        public func resolved(standardErrorIsTerminal: Bool) -> LogFormat {
            guard self == .auto else { return self }
            return standardErrorIsTerminal ? .text : .json
        }
    }

    public var host = "127.0.0.1"
    public var port = 8080
    public var pipelinesDirectory = "pipelines"
    /// Seconds between server heartbeats.
    public var heartbeatInterval = 30.0
    /// Seconds without a sign of life before a connection is closed with 4000.
    public var heartbeatTimeout = 60.0
    /// Seconds a connection has to authenticate where auth is required.
    public var authDeadline = 10.0
    /// How far, in seconds, an auth timestamp may be from the server's clock.
    public var timestampWindow = 300.0
    public var maxFrameSize = 65_536
    public var maxAuthAttempts = 3
    public var maxInvalidMessages = 10
    public var maxSubscriptionsPerConnection = 16
    /// Seconds that a graceful shutdown waits for connections to close.
    public var shutdownDeadline = 10.0
    /// Seconds `/ready` answers 503 before a signalled `serve` closes its listener.
    public var readinessGrace = 2.0
    /// Seconds between hands-back of free heap pages to the kernel (glibc); 0 turns it off.
    public var heapTrimInterval = 10.0
    public var logFormat = LogFormat.auto
    public var logLevel = Logger.Level.info
    public var environment = DeploymentEnvironment.dev
    /// Nil takes the environment's default: required in staging and prod, and in dev when keys are set.
    public var apiKeyRequired: Bool?
    public var signatureRequired = false
    public var apiKeys: [APIKey] = []
    public var eventLoopThreads = System.coreCount
    /// Plain (ws://) listeners accept on a thread of their own and write frames to each
    /// socket with `send`/`writev` from its loop, past NIO's channel write path; false
    /// accepts and writes through NIO alone. TLS connections always write through NIO.
    public var directWrites = true
    public var adminKey: String?
    public var limits = HostLimits()
    /// Whether `GET /pipelines` and `/metrics` require a client or admin key.
    public var statusRequiresKey = false
    /// Origins whose pages may connect (e.g. `https://dashboard.example.com`); empty allows any.
    public var allowedOrigins: [String] = []
    /// The PEM certificate chain and private key; with both, the port serves wss:// and https://.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// With a port, the admin API is served only on a listener of its own at this
    /// address and port, and the public port answers its paths with 404.
    public var adminHost = "127.0.0.1"
    public var adminPort: Int?

    public init() {}

    /// Whether the port speaks TLS (only then are wss:// and https:// served, and nothing plain).
    public var servesTLS: Bool {
        tlsCertificateFile != nil && tlsKeyFile != nil
    }

    public var requiresAuthentication: Bool {
        apiKeyRequired ?? (environment != .dev || !apiKeys.isEmpty)
    }

    /// The longest any period setting may be, in seconds (heartbeat interval and timeout,
    /// auth and shutdown deadlines): a day.
    static let longestPeriodSetting = 86_400.0

    /// How often each connection's heartbeat and silence are checked: a quarter of the
    /// shorter period, so a heartbeat or a timeout is at most that late; at least 5 ms.
    var heartbeatCheckPeriod: TimeAmount {
        .interval(seconds: max(0.005, min(heartbeatInterval, heartbeatTimeout) / 4))
    }

    /// Problems that keep the host from starting, each saying how to fix it.
    public func startupProblems() -> [String] {
        var problems: [String] = []
        if environment == .prod, requiresAuthentication, apiKeys.isEmpty {
            problems.append("MFN_ENV is prod and API keys are required, but none is configured: set MFN_API_KEY=<key> (or MFN_API_KEYS=<key1>,<key2>), or list them under 'api_keys' in the host config file")
        }
        let periods = [("heartbeat_interval", heartbeatInterval), ("heartbeat_timeout", heartbeatTimeout), ("auth_deadline", authDeadline)]
        // Written so that NaN fails too.
        for (name, seconds) in periods where !(seconds > 0 && seconds <= Self.longestPeriodSetting) {
            problems.append("\(name) is \(seconds); it must be more than 0 and at most \(Int(Self.longestPeriodSetting)) seconds (a day)")
        }
        problems += limits.problems()
        if !(1...65_535).contains(port) && port != 0 {
            problems.append("port \(port) is out of range; use 1 to 65535 (or 0 for any free port)")
        }
        if let adminPort {
            if !(0...65_535).contains(adminPort) {
                problems.append("admin port \(adminPort) is out of range; use 1 to 65535 (or 0 for any free port)")
            } else if adminPort != 0, adminPort == port, adminHost == host {
                problems.append("the admin listener cannot share \(host):\(port) with the public one; choose another --admin-port (admin_port), or leave it out to serve the admin API on the public port")
            }
            if adminKey == nil {
                problems.append("--admin-port (admin_port) opens a listener for the admin API, which is off without a key: give the key with HYPHAE_ADMIN_KEY, --admin-key-file or admin_key_file, or leave the admin port out")
            }
        }
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            problems.append("a TLS certificate needs its private key: give both --tls-cert and --tls-key (tls_cert and tls_key in the host config file), or neither to serve plain ws://")
        }
        return problems
    }
}

extension HostConfiguration {
    /// A key kept in a file of its own (so that it appears in no config file, no
    /// environment dump and no `ps` listing): its first line, without surrounding spaces.
    public static func readKey(fromFile path: String) throws(HostConfigurationError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw HostConfigurationError(["cannot read the key file \(path); check the path and its permissions"])
        }
        let key = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard !key.isEmpty else { throw HostConfigurationError(["the key file \(path) is empty; put the key on its first line"]) }
        return key
    }
}

/// A configuration that cannot be used, with what to change.
public struct HostConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]

    public init(_ problems: [String]) {
        self.problems = problems
    }

    public var description: String {
        problems.joined(separator: "\n")
    }
}

extension HostConfiguration {
    /// Reads a host config file (YAML). Every problem is reported, with its position.
    public static func load(file path: String, base: HostConfiguration = HostConfiguration()) throws -> HostConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw HostConfigurationError(["\(path): cannot read the host config file; check the path given to --config"])
        }
        let root: ConfigNode
        switch YAMLDocument.parse(text, file: path) {
        case .success(let node): root = node
        case .failure(let diagnostic): throw HostConfigurationError([diagnostic.description])
        }
        guard root.entries != nil else {
            throw HostConfigurationError(["\(root.location): error: expected a mapping of settings, found \(root.kindDescription)"])
        }
        var reader = ConfigReader(
            node: root, stageType: "host", fieldPrefix: "",
            values: ReferenceValues(params: [:], environment: ProcessInfo.processInfo.environment),
            subject: "the host config"
        )
        var configuration = base
        configuration.read(from: &reader)
        reader.finish()
        let errors = reader.diagnostics.filter(\.isError)
        guard errors.isEmpty else { throw HostConfigurationError(errors.map(\.description)) }
        return configuration
    }

    /// The fields of the host config file, read over this configuration's values.
    mutating func read(from config: inout ConfigReader) {
        host = config.string("host", default: host, summary: "the address to listen on")
        port = config.int("port", default: port, min: 0, max: 65_535, summary: "the TCP port (0: any free port)")
        pipelinesDirectory = config.string("pipelines", default: pipelinesDirectory, summary: "the folder of pipeline files")
        heartbeatInterval = config.double("heartbeat_interval", default: heartbeatInterval, min: 0.01, max: Self.longestPeriodSetting, summary: "seconds between heartbeats")
        heartbeatTimeout = config.double("heartbeat_timeout", default: heartbeatTimeout, min: 0.01, max: Self.longestPeriodSetting, summary: "seconds without a sign of life before closing with 4000")
        authDeadline = config.double("auth_deadline", default: authDeadline, min: 0.01, max: Self.longestPeriodSetting, summary: "seconds to authenticate where auth is required")
        timestampWindow = config.double("timestamp_window", default: timestampWindow, min: 1, summary: "how far an auth timestamp may be from the server's clock, in seconds")
        maxFrameSize = config.int("max_frame_size", default: maxFrameSize, min: 1024, max: 16_777_216, summary: "the largest client frame, in bytes; larger ones close with 1009")
        maxAuthAttempts = config.int("max_auth_attempts", default: maxAuthAttempts, min: 1, max: 100, summary: "failed auth attempts before closing with 1008")
        maxInvalidMessages = config.int("max_invalid_messages", default: maxInvalidMessages, min: 1, max: 1000, summary: "invalid messages in a row before closing with 1008")
        maxSubscriptionsPerConnection = config.int("max_subscriptions", default: maxSubscriptionsPerConnection, min: 1, max: 10_000, summary: "subscriptions one connection may hold")
        shutdownDeadline = config.double("shutdown_deadline", default: shutdownDeadline, min: 0, max: Self.longestPeriodSetting, summary: "seconds a graceful shutdown waits for connections to close")
        heapTrimInterval = config.double("heap_trim_interval", default: heapTrimInterval, min: 0, max: 3600, summary: "seconds between hands-back of freed heap memory to the kernel; 0 turns it off")
        readinessGrace = config.double("readiness_grace", default: readinessGrace, min: 0, max: 600, summary: "seconds /ready answers 503 before a signalled host closes its listener, so that load balancers stop sending clients first")
        logFormat = config.choice("log_format", default: logFormat, summary: "json for machines, text for people, auto: text on a terminal, else json")
        logLevel = config.choice("log_level", default: logLevel, summary: "the lowest level logged")
        environment = config.choice("environment", default: environment, summary: "dev, staging or prod (as MFN_ENV)")
        let keysRequired = config.bool("api_key_required", default: apiKeyRequired ?? false, summary: "whether clients must authenticate (default: in staging and prod, and in dev when keys are set)")
        if config.contains("api_key_required") { apiKeyRequired = keysRequired }
        signatureRequired = config.bool("signature_required", default: signatureRequired, summary: "whether auth must carry an HMAC signature")
        directWrites = config.bool("direct_writes", default: directWrites, summary: "plain ws:// connections: write frames to the socket from its event loop, past NIO's write path (false: through NIO alone)")
        eventLoopThreads = config.int("threads", default: eventLoopThreads, min: 1, max: 256, summary: "event loop threads (default: the number of cores)")
        adminKey = config.optionalString("admin_key", summary: "the key of the admin API") ?? adminKey
        if let file = config.optionalString("admin_key_file", summary: "a file holding the key of the admin API (kept out of the config and of ps)") {
            do {
                adminKey = try Self.readKey(fromFile: file)
            } catch {
                config.problem("admin_key_file", "\(error)")
            }
        }
        tlsCertificateFile = config.optionalString("tls_cert", summary: "the PEM certificate chain, server certificate first; with tls_key, the port serves wss:// and https://") ?? tlsCertificateFile
        tlsKeyFile = config.optionalString("tls_key", summary: "the PEM private key of the certificate in tls_cert") ?? tlsKeyFile
        adminHost = config.string("admin_host", default: adminHost, summary: "the address of the admin listener, with admin_port (default 127.0.0.1)")
        adminPort = config.optionalInt("admin_port", min: 0, max: 65_535, summary: "a port of its own for the admin API (0: any free port); the public port then answers /admin/ with 404") ?? adminPort
        if config.contains("admin_host"), adminPort == nil {
            config.problem("admin_host", "admin_host is the address of the admin listener, which needs admin_port: add admin_port, or leave admin_host out to serve the admin API on the public port")
        }
        if let keys = config.node("api_keys", type: "list of {key, id, pipelines}", summary: "client API keys") {
            apiKeys += Self.readKeys(keys, config: &config)
        }
        statusRequiresKey = config.bool("status_requires_key", default: statusRequiresKey, summary: "whether GET /pipelines and /metrics require a client or admin key as Authorization: Bearer")
        allowedOrigins = config.stringList("allowed_origins", default: allowedOrigins, summary: "origins whose web pages may connect, e.g. https://dashboard.example.com; others get 403 (default: any)")
        config.nested("limits", summary: "connection, message, memory and instance limits (Docs/SECURITY.md)") { limits.read(from: &$0) }
    }

    private static func readKeys(_ node: ConfigNode, config: inout ConfigReader) -> [APIKey] {
        guard let elements = node.elements else {
            config.problem(at: node, field: "api_keys", "expected a list of keys, each '- key: <secret>' with an optional 'id' and 'pipelines', found \(node.kindDescription)")
            return []
        }
        var keys: [APIKey] = []
        for (index, element) in elements.enumerated() {
            let field = "api_keys[\(index)]"
            if let secret = element.scalarText, !element.isNull {
                keys.append(APIKey(secret: secret))
                continue
            }
            guard let entries = element.entries else {
                config.problem(at: element, field: field, "expected a key or a mapping with 'key', found \(element.kindDescription)")
                continue
            }
            for entry in entries where !["key", "id", "pipelines"].contains(entry.key) {
                config.problem(at: entry.value, field: "\(field).\(entry.key)", "unknown field '\(entry.key)' in an API key\(Suggestions.didYouMean(entry.key, in: ["key", "id", "pipelines"]))")
            }
            guard let secret = element["key"]?.value.scalarText, !secret.isEmpty else {
                config.problem(at: element, field: "\(field).key", "missing required field 'key' (the secret clients send as api_key)")
                continue
            }
            var pipelines: Set<String>?
            if let list = element["pipelines"]?.value {
                if let names = list.elements?.compactMap(\.scalarText) {
                    pipelines = Set(names)
                } else {
                    config.problem(at: list, field: "\(field).pipelines", "expected a list of pipeline names")
                }
            }
            keys.append(APIKey(secret: secret, id: element["id"]?.value.scalarText, pipelines: pipelines))
        }
        return keys
    }

    /// Applies the `MFN_*` variables of the protocol (PROTOCOL.md, Configuration).
    public mutating func applyEnvironment(_ variables: [String: String]) throws {
        var problems: [String] = []
        if let value = variables["MFN_ENV"], !value.isEmpty {
            switch value.lowercased() {
            case "dev", "development": environment = .dev
            case "staging": environment = .staging
            case "prod", "production": environment = .prod
            default: problems.append("MFN_ENV is '\(value)'; use dev, staging or prod")
            }
        }
        // A value that spells neither true nor false is reported, never read as false.
        func flag(_ name: String) -> Bool? {
            guard let value = variables[name], !value.isEmpty else { return nil }
            guard let flag = BoolSpelling.flag.parse(value) else {
                problems.append("\(name) is '\(value)'; use \(BoolSpelling.flag.accepted)")
                return nil
            }
            return flag
        }
        if let required = flag("MFN_API_KEY_REQUIRED") { apiKeyRequired = required }
        if let required = flag("MFN_SIGNATURE_REQUIRED") { signatureRequired = required }
        if let key = variables["MFN_API_KEY"], !key.isEmpty {
            apiKeys.append(APIKey(secret: key))
        }
        if let keys = variables["MFN_API_KEYS"] {
            for key in keys.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !key.isEmpty {
                apiKeys.append(APIKey(secret: key))
            }
        }
        if let key = variables["HYPHAE_ADMIN_KEY"], !key.isEmpty {
            adminKey = key
        }
        if !problems.isEmpty { throw HostConfigurationError(problems) }
    }
}
