/// Whether subscribers share a running instance of a pipeline.
public enum Sharing: String, Sendable, CaseIterable {
    /// Endless pipelines share an instance per set of param values; finite ones run per subscriber.
    case auto
    /// Subscribers with equal params share an instance, even of a finite pipeline
    /// (late subscribers then join a run midway).
    case shared
    /// Every subscriber gets a run of its own.
    case perSubscriber = "per_subscriber"
}

/// One stage of a pipeline as its file wrote it, with the configuration read from
/// the param defaults at load time.
public struct StageSpec: Sendable {
    public var descriptor: StageDescriptor
    public var node: ConfigNode
    /// Where the stage sits in the file, e.g. `transforms[1]`.
    public var fieldPath: String
    public var defaultConfiguration: any StageConfiguration

    public var type: String { descriptor.type }
}

/// A validated pipeline file.
public struct PipelineDefinition: Sendable {
    public var name: String
    public var summary: String
    public var params: [ParamDeclaration]
    public var sharing: Sharing
    /// The most instances that may run at once; further subscriptions get `CAPACITY`.
    public var maxInstances: Int?
    public var source: StageSpec
    public var transforms: [StageSpec]
    public var sinks: [StageSpec]
    public var file: String
    /// Where the file gives the name, for errors about it.
    public var nameLocation: SourceLocation
    /// Changes whenever the file's text does.
    public var version: String
    /// The environment `${env:...}` references were read from.
    public var environment: [String: String]

    /// The URL paths the pipeline's sinks serve.
    public var endpointPaths: [String] {
        sinks.compactMap { ($0.defaultConfiguration as? any EndpointConfiguration)?.endpointPath }
    }

    /// Whether a run with the default params ends by itself.
    public var isFinite: Bool {
        source.descriptor.isFinite(source.defaultConfiguration)
    }

    /// Whether subscribers with equal params share one running instance.
    public var sharesInstances: Bool {
        switch sharing {
        case .shared: true
        case .perSubscriber: false
        case .auto: !isFinite
        }
    }

    /// 1 to 64 letters, digits, `_` or `-`: a name that is safe in a URL and a file name.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { $0 == "_" || $0 == "-" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    public func param(named name: String) -> ParamDeclaration? {
        params.first { $0.name == name }
    }

    public var defaultParams: ResolvedParams {
        ResolvedParams(values: JSONObject(params.map { ($0.name, $0.defaultValue) }), setBySubscriber: [])
    }

    /// Checks what a subscriber set and fills in the rest from the defaults. An
    /// undeclared name is an error that lists the names allowed.
    public func resolveParams(_ given: JSONObject?) -> Result<ResolvedParams, ParamError> {
        let given = given ?? JSONObject()
        for (key, _) in given where param(named: key) == nil {
            let names = params.map(\.name)
            let allowed = names.isEmpty ? "it takes no params" : "allowed: \(names.joined(separator: ", "))"
            let hint = Suggestions.didYouMean(key, in: names)
            return .failure(ParamError(param: nil, "'\(name)' has no param '\(key)'\(hint) (\(allowed))"))
        }
        var values = JSONObject(minimumCapacity: params.count)
        var setBySubscriber: Set<String> = []
        for declaration in params {
            guard let value = given[declaration.name], value != .null else {
                values.append(declaration.name, declaration.defaultValue)
                continue
            }
            switch declaration.check(value) {
            case .success(let canonical):
                values.append(declaration.name, canonical)
                setBySubscriber.insert(declaration.name)
            case .failure(let error):
                return .failure(error)
            }
        }
        return .success(ResolvedParams(values: values, setBySubscriber: setBySubscriber))
    }

    /// Reads every stage's configuration with these params.
    public func configure(with params: ResolvedParams) -> Result<PipelineConfiguration, ParamError> {
        let values = ReferenceValues(
            params: Dictionary(params.values.members.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first }),
            setBySubscriber: params.setBySubscriber,
            environment: environment
        )
        var problems: [Diagnostic] = []
        func read(_ spec: StageSpec) -> ConfiguredStage {
            var reader = ConfigReader(node: spec.node, stageType: spec.type, fieldPrefix: spec.fieldPath, values: values)
            let configuration = spec.descriptor.configuration(from: &reader)
            problems += reader.diagnostics
            return ConfiguredStage(descriptor: spec.descriptor, configuration: configuration, settings: reader.settings, fieldPath: spec.fieldPath)
        }
        let configuration = PipelineConfiguration(
            pipeline: name,
            version: version,
            params: params,
            source: read(source),
            transforms: transforms.map(read),
            sinks: sinks.map(read)
        )
        if let first = problems.first(where: \.isError) {
            return .failure(ParamError(param: nil, "these params give an invalid pipeline: \(first.summary)"))
        }
        return .success(configuration)
    }
}

/// A stage type with its configuration read.
public struct ConfiguredStage: Sendable {
    public var descriptor: StageDescriptor
    public var configuration: any StageConfiguration
    /// Every field as it was read: params and defaults resolved, null where unset.
    public var settings = JSONObject()
    /// Where the stage sits in its file, e.g. `transforms[1]`.
    public var fieldPath = ""

    public func makeSource(context: StageContext) throws -> any SourceStage {
        try descriptor.makeSource(configuration, context: context)
    }

    public func makeTransform(context: StageContext) throws -> any TransformStage {
        try descriptor.makeTransform(configuration, context: context)
    }

    public func makeSink(context: StageContext) throws -> any FrameSink {
        try descriptor.makeSink(configuration, context: context)
    }
}

/// A pipeline with every stage configured for one set of params: what an instance runs.
public struct PipelineConfiguration: Sendable {
    public var pipeline: String
    public var version: String
    public var params: ResolvedParams
    public var source: ConfiguredStage
    public var transforms: [ConfiguredStage]
    public var sinks: [ConfiguredStage]

    public var isFinite: Bool {
        source.descriptor.isFinite(source.configuration)
    }

    /// The configuration of the first sink of a given configuration type.
    public func sinkConfiguration<Configuration: StageConfiguration>(of type: Configuration.Type) -> Configuration? {
        sinks.lazy.compactMap { $0.configuration as? Configuration }.first
    }

    /// The configurations of every sink of a given configuration type, in file order.
    public func sinkConfigurations<Configuration: StageConfiguration>(of type: Configuration.Type) -> [Configuration] {
        sinks.compactMap { $0.configuration as? Configuration }
    }
}
