/// Something the program that runs a pipeline lends the stages it builds: the host
/// lends its WebSocket fan-out, a test a recorder. A stage that needs one asks its
/// context for it by type and throws a `StageError` saying where it can run when
/// the context has none.
public protocol StageResource: AnyObject, Sendable {}

/// The resources a stage's context carries, one of each type.
public struct StageResources: Sendable {
    private var resources: [ObjectIdentifier: any StageResource] = [:]

    public init() {}

    public subscript<Resource: StageResource>(_ type: Resource.Type) -> Resource? {
        get { resources[ObjectIdentifier(type)] as? Resource }
        set { resources[ObjectIdentifier(type)] = newValue }
    }
}
