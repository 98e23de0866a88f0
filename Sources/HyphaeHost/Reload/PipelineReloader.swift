import HyphaeCore
import HyphaeProtocol
import Logging
import NIOCore

/// Applies the pipelines folder to a running host, one reload at a time.
///
/// A reload validates every file first. A file that fails keeps its pipeline's old
/// version running; unchanged pipelines are not touched; a changed pipeline's new
/// version is built before its subscribers move to it, on a frame boundary, keeping
/// their connections, queues, stream ids and sequence numbers; a removed pipeline's
/// subscribers get `stream_end` with `pipeline_removed`.
public actor PipelineReloader {
    private let host: HostContext
    private let loader: PipelineLoader
    private let directory: String
    /// The latest refused text of each file, by file.
    public private(set) var lastErrors: [String: [Diagnostic]] = [:]

    public init(host: HostContext, directory: String) {
        self.host = host
        self.directory = directory
        loader = PipelineLoader(registry: host.registry)
    }

    /// The latest problem of the file that defines `pipeline`.
    public func lastError(forFile file: String) -> [Diagnostic]? {
        lastErrors[file]
    }

    /// The latest reload asked for; each one waits for the one before it.
    private var latestReload: Task<ReloadReport, Never>?

    /// Reloads the folder. Reloads run one at a time, in the order asked for: one
    /// that started while another was moving subscribers would otherwise move them
    /// again from an instance that has not started yet.
    @discardableResult
    public func reload(trigger: String) async -> ReloadReport {
        let previous = latestReload
        let reload = Task { [self] in
            _ = await previous?.value
            return await reloadNow(trigger: trigger)
        }
        latestReload = reload
        return await reload.value
    }

    private func reloadNow(trigger: String) async -> ReloadReport {
        let previous = host.currentCatalog
        let fresh = PipelineCatalog.load(paths: [directory], loader: loader)
        var report = ReloadReport()
        // A folder that cannot be read says nothing about its pipelines: keep them all
        // rather than end every stream as if the files were gone.
        guard fresh.unreadablePaths.isEmpty else {
            for result in fresh.files where fresh.unreadablePaths.contains(result.file) {
                report.failures[result.file] = result.diagnostics
            }
            report.unchanged = previous.pipelines.map(\.name)
            host.metrics.reloaded(result: "failed")
            host.logger.error("pipelines folder unreadable; the running pipelines stay", metadata: [
                "event": "reload", "trigger": "\(trigger)", "result": "failed",
                "errors": "\(fresh.diagnostics.map(\.description).joined(separator: " | "))",
            ])
            return report
        }
        var merged = merge(previous: previous, fresh: fresh, report: &report)

        let oldByName = Dictionary(previous.pipelines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var newByName = Dictionary(merged.pipelines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        // A changed pipeline whose new version cannot be built keeps the old one.
        for (name, definition) in newByName {
            guard let old = oldByName[name], old.version != definition.version else { continue }
            do {
                if case .success(let configuration) = definition.configure(with: definition.defaultParams) {
                    try PipelineInstance.checkBuildable(configuration, logger: host.logger)
                }
            } catch {
                let problem = Diagnostic.error(at: definition.nameLocation, field: nil, "the new version could not be built, so the old one keeps running: \(error)")
                report.failures[definition.file, default: []].append(problem)
                merged = replacing(name, in: merged, with: old)
                newByName[name] = old
            }
        }

        for name in Set(oldByName.keys).union(newByName.keys).sorted() {
            switch (oldByName[name], newByName[name]) {
            case (nil, _?): report.added.append(name)
            case (_?, nil): report.removed.append(name)
            case let (old?, new?) where old.version != new.version: report.changed.append(name)
            default: report.unchanged.append(name)
            }
        }

        host.replaceCatalog(merged)
        for name in report.changed {
            if let new = newByName[name] { await move(pipeline: name, to: new) }
        }
        for name in report.removed {
            await end(pipeline: name, reason: .pipelineRemoved, message: "the pipeline '\(name)' was removed")
        }

        for file in fresh.files.map(\.file) where report.failures[file] == nil { lastErrors[file] = nil }
        for (file, diagnostics) in report.failures { lastErrors[file] = diagnostics }
        for file in lastErrors.keys where !fresh.files.contains(where: { $0.file == file }) { lastErrors[file] = nil }

        host.metrics.reloaded(result: report.succeeded ? "success" : "failed")
        let level: Logger.Level = report.succeeded ? .info : .error
        host.logger.log(level: level, "pipelines reloaded", metadata: [
            "event": "reload", "trigger": "\(trigger)", "result": "\(report.succeeded ? "success" : "failed")",
            "added": "\(report.added.joined(separator: ","))", "changed": "\(report.changed.joined(separator: ","))",
            "removed": "\(report.removed.joined(separator: ","))",
            "errors": "\(report.failures.values.flatMap { $0 }.map(\.description).joined(separator: " | "))",
        ])
        return report
    }

    /// The new catalog: each valid file's new version; for a refused file, the
    /// version that was running. Pipelines already running win any clash of names
    /// or paths with newcomers.
    private func merge(previous: PipelineCatalog, fresh: PipelineCatalog, report: inout ReloadReport) -> PipelineCatalog {
        let previousByFile = Dictionary(previous.files.compactMap { result in result.pipeline.map { (result.file, $0) } }, uniquingKeysWith: { first, _ in first })
        var kept: [PipelineFileResult] = []
        var changed: [PipelineFileResult] = []
        var added: [PipelineFileResult] = []
        for result in fresh.files {
            if result.isValid, let pipeline = result.pipeline {
                if let old = previousByFile[result.file] {
                    if old.version == pipeline.version { kept.append(result) } else { changed.append(result) }
                } else {
                    added.append(result)
                }
            } else {
                let errors = result.diagnostics.filter(\.isError)
                guard !errors.isEmpty else { continue }
                report.failures[result.file] = errors
                if let old = previousByFile[result.file] {
                    kept.append(PipelineFileResult(file: result.file, pipeline: old, diagnostics: []))
                }
            }
        }
        var merged = PipelineCatalog(checking: kept + changed + added)
        // A changed file that now clashes with another pipeline keeps its old version.
        for result in merged.files where !result.isValid {
            report.failures[result.file] = result.diagnostics.filter(\.isError)
            if let old = previousByFile[result.file], changed.contains(where: { $0.file == result.file }) {
                merged = PipelineCatalog(checking: merged.files.map { $0.file == result.file ? PipelineFileResult(file: $0.file, pipeline: old, diagnostics: []) : $0 })
            }
        }
        return merged
    }

    private func replacing(_ name: String, in catalog: PipelineCatalog, with old: PipelineDefinition) -> PipelineCatalog {
        PipelineCatalog(checking: catalog.files.map { result in
            result.pipeline?.name == name ? PipelineFileResult(file: result.file, pipeline: old, diagnostics: []) : result
        })
    }

    /// Moves every subscriber of a changed pipeline to its new version.
    ///
    /// Each old instance stops first: once its task has ended, every frame it made is
    /// already queued on the loops ahead of the move, so its subscribers receive all
    /// of them, and the new instances number their frames on from where it stopped.
    /// The subscribers of one old instance move to instances of their own (one per
    /// params), never to one that another instance's subscribers or a newcomer
    /// already read, whose numbering differs.
    private func move(pipeline name: String, to definition: PipelineDefinition) async {
        let manager = host.instances
        for old in manager.instances(of: name) where old.version != definition.version {
            manager.retire(old)
            let nextSequence = await old.stopAndWait()
            let lastFrame = old.fanOut.history.position
            let successors = SuccessorInstances(definition: definition, manager: manager, continuing: old)
            for handle in old.fanOut.handles {
                try? await handle.eventLoop.submit {
                    Self.moveSubscribers(of: old.fanOut.afterWaitingFrames(handle), from: old, to: definition, successors: successors, manager: manager)
                }.get()
            }
            for instance in successors.created { instance.startIfNeeded(sequence: nextSequence, continuing: lastFrame) }
        }
    }

    /// On the fan-out's loop, between two frames: each subscriber either moves to the
    /// instance of the new version for its params or, when its params no longer fit,
    /// ends with `params_invalid`.
    private static func moveSubscribers(
        of fanOut: LoopFanOut, from old: PipelineInstance, to definition: PipelineDefinition,
        successors: SuccessorInstances, manager: InstanceManager
    ) {
        for subscription in fanOut.subscriptions where subscription.fanOut === old.fanOut && !subscription.isFinished {
            let kept = JSONObject(subscription.params.values.members.filter { subscription.params.setBySubscriber.contains($0.key) }.map { ($0.key, $0.value) })
            switch definition.resolveParams(kept).flatMap({ definition.configure(with: $0) }) {
            case .success(let configuration):
                let instance = successors.instance(for: configuration)
                fanOut.remove(subscription)
                subscription.move(to: instance.fanOut, params: configuration.params)
                instance.fanOut.loop(fanOut.eventLoop).add(subscription)
                manager.release(old)
                subscription.notify(.reloaded(pipelineVersion: definition.version, params: configuration.params.values))
            case .failure(let problem):
                subscription.notify(.ended(.paramsInvalid, message: "the pipeline changed and this subscription's params no longer fit it: \(problem.description)"))
            }
            subscription.output.flush()
        }
    }

    /// Ends every subscription of a pipeline, e.g. with `pipeline_removed`.
    private func end(pipeline name: String, reason: StreamEndReason, message: String) async {
        for instance in host.instances.instances(of: name) {
            host.instances.retire(instance)
            for handle in instance.fanOut.handles {
                try? await handle.eventLoop.submit {
                    for subscription in instance.fanOut.afterWaitingFrames(handle).subscriptions where !subscription.isFinished {
                        subscription.notify(.ended(reason, message: message))
                        subscription.output.flush()
                    }
                }.get()
            }
            instance.stop()
        }
    }
}
