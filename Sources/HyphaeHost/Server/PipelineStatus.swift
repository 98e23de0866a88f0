import HyphaeCore

/// A pipeline as `GET /pipelines` and the admin API show it. The public listing names
/// the file without its folder; the admin API, behind its key, gives the whole path.
enum PipelineStatus {
    static func json(for definition: PipelineDefinition, host: HostContext, instances: [InstanceManager.InstanceSummary], fullPath: Bool = false) -> JSONValue {
        let metrics = host.metrics.pipeline(definition.name)
        let running = instances.filter { $0.pipeline == definition.name }
        var params = JSONObject()
        for param in definition.params { params.append(param.name, param.descriptionJSON) }
        return .object([
            "name": .string(definition.name),
            "description": .string(definition.summary),
            "file": .string(fullPath ? definition.file : String(definition.file.split(separator: "/").last ?? "")),
            "version": .string(definition.version),
            "paths": .array(definition.endpointPaths.map(JSONValue.string)),
            "sharing": .string(definition.sharesInstances ? "shared" : "per_subscriber"),
            "finite": .bool(definition.isFinite),
            "params": .object(params),
            "instances": .array(running.map { summary in
                .object([
                    "id": .string(summary.id), "version": .string(summary.version),
                    "params": .object(summary.params), "subscribers": .int(summary.subscribers),
                ])
            }),
            "subscribers": .int(metrics.subscribers.current),
            "frames_emitted": .int(metrics.framesEmitted.current),
            "frames_sent": .int(metrics.framesSent.current),
            "frames_dropped": .int(metrics.totalDropped),
        ])
    }
}
