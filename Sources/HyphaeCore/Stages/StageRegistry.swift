/// A stage type known to the host: its name, kind, fields, and how to make it.
public struct StageDescriptor: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case source
        case transform
        case sink
    }

    enum Factory: Sendable {
        case source(
            make: @Sendable (any StageConfiguration, StageContext) throws -> any SourceStage,
            isFinite: @Sendable (any StageConfiguration) -> Bool
        )
        case transform(make: @Sendable (any StageConfiguration, StageContext) throws -> any TransformStage)
        case sink(make: @Sendable (any StageConfiguration, StageContext) throws -> any FrameSink)
    }

    public let type: String
    public let kind: Kind
    public let summary: String
    let readConfiguration: @Sendable (inout ConfigReader) -> any StageConfiguration
    let factory: Factory

    /// The fields its configuration reads, with types, defaults and bounds.
    public var fields: [ConfigField] {
        var reader = ConfigReader(describing: type)
        _ = readConfiguration(&reader)
        return reader.fields
    }

    /// Reads a configuration from a stage's mapping; problems are left in the reader.
    public func configuration(from reader: inout ConfigReader) -> any StageConfiguration {
        let configuration = readConfiguration(&reader)
        reader.finish()
        return configuration
    }

    /// The stage for tools (`hyphae stages --json`): its type, kind, summary and
    /// every field, in that order.
    public var descriptionJSON: JSONValue {
        var object = JSONObject(minimumCapacity: 4)
        object.append("type", .string(type))
        object.append("kind", .string(kind.rawValue))
        object.append("summary", .string(summary))
        object.append("fields", .array(fields.map(\.descriptionJSON)))
        return .object(object)
    }
}

extension StageDescriptor {
    public static func source<Stage: SourceStage>(_ stage: Stage.Type) -> StageDescriptor {
        StageDescriptor(
            type: Stage.stageType,
            kind: .source,
            summary: Stage.summary,
            readConfiguration: { Stage.Configuration(reading: &$0) },
            factory: .source(
                make: { configuration, context in
                    try Stage(configuration: cast(configuration, to: Stage.Configuration.self), context: context)
                },
                isFinite: { configuration in
                    (configuration as? Stage.Configuration).map(Stage.isFinite) ?? false
                }
            )
        )
    }

    public static func transform<Stage: TransformStage>(_ stage: Stage.Type) -> StageDescriptor {
        StageDescriptor(
            type: Stage.stageType,
            kind: .transform,
            summary: Stage.summary,
            readConfiguration: { Stage.Configuration(reading: &$0) },
            factory: .transform(make: { configuration, context in
                try Stage(configuration: cast(configuration, to: Stage.Configuration.self), context: context)
            })
        )
    }

    /// A sink made by a closure rather than its own initializer, for a sink that
    /// needs something of the host's (the WebSocket fan-out) to run.
    public static func sink<Configuration: StageConfiguration>(
        type: String,
        summary: String,
        configuration: Configuration.Type,
        make: @escaping @Sendable (Configuration, StageContext) throws -> any FrameSink
    ) -> StageDescriptor {
        StageDescriptor(
            type: type,
            kind: .sink,
            summary: summary,
            readConfiguration: { Configuration(reading: &$0) },
            factory: .sink(make: { configuration, context in
                try make(cast(configuration, to: Configuration.self), context)
            })
        )
    }

    public static func sink<Stage: SinkStage>(_ stage: Stage.Type) -> StageDescriptor {
        sink(type: Stage.stageType, summary: Stage.summary, configuration: Stage.Configuration.self) { configuration, context in
            try Stage(configuration: configuration, context: context)
        }
    }

    private static func cast<Configuration>(_ configuration: any StageConfiguration, to: Configuration.Type) throws -> Configuration {
        guard let typed = configuration as? Configuration else {
            throw StageError("internal error: a \(Swift.type(of: configuration)) was given where a \(Configuration.self) is needed")
        }
        return typed
    }

    func makeSource(_ configuration: any StageConfiguration, context: StageContext) throws -> any SourceStage {
        guard case .source(let make, _) = factory else { throw StageError("'\(type)' is a \(kind.rawValue), not a source") }
        return try make(configuration, context)
    }

    func makeTransform(_ configuration: any StageConfiguration, context: StageContext) throws -> any TransformStage {
        guard case .transform(let make) = factory else { throw StageError("'\(type)' is a \(kind.rawValue), not a transform") }
        return try make(configuration, context)
    }

    func makeSink(_ configuration: any StageConfiguration, context: StageContext) throws -> any FrameSink {
        guard case .sink(let make) = factory else { throw StageError("'\(type)' is a \(kind.rawValue), not a sink") }
        return try make(configuration, context)
    }

    func isFinite(_ configuration: any StageConfiguration) -> Bool {
        guard case .source(_, let isFinite) = factory else { return false }
        return isFinite(configuration)
    }
}

/// A failure of a stage, worded for the person who will read it.
public struct StageError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The stage types a host knows, by name. Core registers none: stage modules do.
public struct StageRegistry: Sendable {
    private var descriptors: [String: StageDescriptor] = [:]
    /// Stage types registered twice, which the host refuses to start with.
    public private(set) var conflicts: [String] = []

    public init() {}

    public init(plugins: [any StagePlugin.Type]) {
        for plugin in plugins { plugin.register(in: &self) }
    }

    public mutating func register(_ descriptor: StageDescriptor) {
        if descriptors[descriptor.type] != nil { conflicts.append(descriptor.type) }
        descriptors[descriptor.type] = descriptor
    }

    public mutating func register<Stage: SourceStage>(_ stage: Stage.Type) {
        register(.source(stage))
    }

    public mutating func register<Stage: TransformStage>(_ stage: Stage.Type) {
        register(.transform(stage))
    }

    public mutating func register<Stage: SinkStage>(_ stage: Stage.Type) {
        register(.sink(stage))
    }

    public subscript(type: String) -> StageDescriptor? {
        descriptors[type]
    }

    /// Every registered stage type, sources first, then by name.
    public var all: [StageDescriptor] {
        descriptors.values.sorted { lhs, rhs in
            let order = StageDescriptor.Kind.allCases
            let left = order.firstIndex(of: lhs.kind) ?? 0
            let right = order.firstIndex(of: rhs.kind) ?? 0
            return (left, lhs.type) < (right, rhs.type)
        }
    }

    public func types(of kind: StageDescriptor.Kind) -> [String] {
        descriptors.values.filter { $0.kind == kind }.map(\.type).sorted()
    }
}
