import Foundation
import HyphaeCore
import NIOHTTP1

/// The pipeline admin API (`/admin/...`): list, inspect, create or replace from
/// YAML, delete, reload. Behind its own key, sent as `Authorization: Bearer KEY`;
/// off when no admin key is set.
struct AdminAPI: Sendable {
    let host: HostContext
    let reloader: PipelineReloader
    let directory: String

    /// Answers a request the `AdminGate` let through, and writes it to the audit log.
    func respond(to request: HTTPRequest) async -> HTTPResponse {
        let response = await answer(request)
        host.logger.notice("admin action", metadata: [
            "event": "admin_audit", "method": "\(request.method.rawValue)", "path": "\(request.path)",
            "status": "\(response.status.code)", "remote": "\(request.remoteAddress ?? "unknown")",
        ])
        return response
    }

    private func answer(_ request: HTTPRequest) async -> HTTPResponse {
        switch (request.method, Route(path: request.path)) {
        case (.GET, .pipelines):
            let instances = host.instances.summaries()
            var documents: [JSONValue] = []
            for definition in host.pipelines {
                documents.append(await detail(definition, instances: instances, includeSource: false))
            }
            return .json(["pipelines": .array(documents)])
        case (.GET, .pipeline(let name)):
            guard let definition = host.pipeline(named: name) else { return notFound(name) }
            return .json(await detail(definition, instances: host.instances.summaries(), includeSource: true))
        case (.PUT, .pipeline(let name)):
            return await put(name: name, body: request.body)
        case (.DELETE, .pipeline(let name)):
            return await delete(name: name)
        case (.POST, .reload):
            let report = await reloader.reload(trigger: "admin")
            return .json(report.json, status: report.succeeded ? .ok : .unprocessableEntity)
        case (_, .unknown):
            return .problem(.notFound, "no admin endpoint at \(request.path)")
        default:
            return .problem(.methodNotAllowed, "\(request.method.rawValue) is not served at \(request.path); see Docs/OPERATIONS.md for the admin API")
        }
    }

    private enum Route {
        case pipelines
        case pipeline(String)
        case reload
        case unknown

        init(path: String) {
            let parts = path.split(separator: "/").map(String.init)
            switch parts.count {
            case 2 where parts == ["admin", "pipelines"]: self = .pipelines
            case 2 where parts == ["admin", "reload"]: self = .reload
            case 3 where parts[0] == "admin" && parts[1] == "pipelines": self = .pipeline(parts[2].removingPercentEncoding ?? parts[2])
            default: self = .unknown
            }
        }
    }

    private func notFound(_ name: String) -> HTTPResponse {
        let hint = Suggestions.didYouMean(name, in: host.pipelines.map(\.name))
        return .problem(.notFound, "no pipeline named '\(name)'\(hint)")
    }

    private func detail(_ definition: PipelineDefinition, instances: [InstanceManager.InstanceSummary], includeSource: Bool) async -> JSONValue {
        guard case .object(var object) = PipelineStatus.json(for: definition, host: host, instances: instances, fullPath: true) else { return .null }
        let errors = await reloader.lastError(forFile: definition.file)
        object["status"] = .string(errors == nil ? "running" : "running_previous_version")
        object["last_error"] = errors.map { .array($0.map(\.json)) } ?? .null
        if includeSource, let text = try? String(contentsOfFile: definition.file, encoding: .utf8) {
            object["definition"] = .string(text)
        }
        return .object(object)
    }

    /// Validates the YAML as `hyphae validate` would, against the other pipelines,
    /// then writes it atomically into the pipelines folder and reloads.
    private func put(name: String, body: [UInt8]) async -> HTTPResponse {
        guard PipelineDefinition.isValidName(name) else {
            return .problem(.badRequest, "'\(name)' is not a pipeline name: use letters, digits, '_' and '-'")
        }
        guard let text = String(validating: body, as: UTF8.self), !text.isEmpty else {
            return .problem(.badRequest, "send the pipeline's YAML as the request body (UTF-8)")
        }
        let existing = host.pipeline(named: name)
        let path = existing?.file ?? (directory as NSString).appendingPathComponent("\(name).yaml")
        let loader = PipelineLoader(registry: host.registry)
        let result = loader.load(text: text, file: path)
        guard result.isValid, let pipeline = result.pipeline else {
            return .json(["error": "the pipeline is invalid; nothing was changed", "errors": .array(result.diagnostics.filter(\.isError).map(\.json))], status: .unprocessableEntity)
        }
        guard pipeline.name == name else {
            return .json(["error": .string("the file names the pipeline '\(pipeline.name)' but the URL names '\(name)'; make them the same")], status: .unprocessableEntity)
        }
        let others = host.currentCatalog.files.filter { $0.file != path && $0.pipeline != nil }
        let checked = PipelineCatalog(checking: others + [result])
        if let clash = checked.files.last, !clash.isValid {
            return .json(["error": "the pipeline clashes with another one; nothing was changed", "errors": .array(clash.diagnostics.filter(\.isError).map(\.json))], status: .conflict)
        }
        do {
            try Data(body).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            return .problem(.internalServerError, "could not write \(path): \(error)")
        }
        let report = await reloader.reload(trigger: "admin")
        if let problems = report.failures[path] {
            return .json(["error": "the pipeline was written but could not be started; the previous version keeps running", "errors": .array(problems.map(\.json)), "reload": report.json], status: .unprocessableEntity)
        }
        return .json(["pipeline": .string(name), "version": .string(pipeline.version), "file": .string(path), "reload": report.json], status: existing == nil ? .created : .ok)
    }

    private func delete(name: String) async -> HTTPResponse {
        guard let definition = host.pipeline(named: name) else { return notFound(name) }
        do {
            try FileManager.default.removeItem(atPath: definition.file)
        } catch {
            return .problem(.internalServerError, "could not delete \(definition.file): \(error)")
        }
        let report = await reloader.reload(trigger: "admin")
        return .json(["deleted": .string(name), "file": .string(definition.file), "reload": report.json])
    }
}
