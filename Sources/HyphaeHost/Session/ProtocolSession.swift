import HyphaeCore
import HyphaeProtocol
import HyphaeWire
import Logging
import NIOCore
import NIOWebSocket
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One client connection speaking protocol v1 (PROTOCOL.md): the conversation,
/// auth, subscriptions, heartbeats, limits and audit. Lives on its channel's event
/// loop, as do its subscriptions, so nothing in it locks.
final class ProtocolSession: ChannelInboundHandler, SubscriptionOwner, HeartbeatParticipant {
    typealias InboundIn = WebSocketFrame

    private let host: HostContext
    private let endpoint: Endpoint
    private let remoteAddress: String
    private let connectionID: String
    private var logger: Logger
    private var configuration: HostConfiguration { host.configuration }

    private var channel: Channel?
    private var output: ConnectionOutput?
    private var identity: Authenticator.KeyIdentity?
    private var failedAuthAttempts = 0
    private var invalidInARow = 0
    private var subscriptions: [String: Subscription] = [:]
    /// Read on the event loop's clock, the one its timers run on (set when the handler is added).
    private var lastSignOfLife = NIODeadline.uptimeNanoseconds(0)
    private var lastHeartbeat = NIODeadline.uptimeNanoseconds(0)
    private var heartbeats: LoopHeartbeats?
    private var authDeadline: Scheduled<Void>?
    private let openedAt = NIODeadline.now()
    private var packetsSent = 0
    private var packetsReceived = 0
    private var droppedFrames = 0
    private var isClosing = false
    private var closeCode: CloseCode?
    /// Messages the client may still send at once (a token bucket refilled at `max_messages_per_second`).
    private var messageAllowance: Double
    private var allowanceUpdatedAt = NIODeadline.uptimeNanoseconds(0)
    /// The key this connection counts against in the per-key connection limit.
    private var countedKey: String?

    init(host: HostContext, endpoint: Endpoint, remoteAddress: String, connectionID: String) {
        messageAllowance = 2 * host.configuration.limits.maxMessagesPerSecond
        self.host = host
        self.endpoint = endpoint
        self.remoteAddress = remoteAddress
        self.connectionID = connectionID
        logger = host.logger
        logger[metadataKey: "connection"] = "\(connectionID)"
    }

    private var isAuthenticated: Bool { identity != nil || !host.authenticator.isRequired }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        if let headContext = try? context.pipeline.syncOperations.context(handlerType: HeadWriter.self) {
            output = ConnectionOutput(context: headContext, handoffs: host.metrics.directWriteHandoffs)
        }
        host.register(context.channel)
        host.metrics.connectionsOpen.add(1)
        host.metrics.connectionsTotal.add(1)
        logger.info("connection opened", metadata: ["event": "connection_opened", "remote": "\(remoteAddress)", "path": "\(endpoint.path)"])
        lastSignOfLife = context.eventLoop.now
        lastHeartbeat = lastSignOfLife
        allowanceUpdatedAt = lastSignOfLife
        heartbeats = host.heartbeats.loop(context.eventLoop)
        heartbeats?.add(self)
        if host.authenticator.isRequired {
            authDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: .interval(seconds: configuration.authDeadline)) { [self] in
                guard identity == nil else { return }
                logger.info("auth deadline passed", metadata: ["event": "auth_timeout"])
                close(.policyViolation, reason: "authentication deadline passed")
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        endAllSubscriptions()
        if let countedKey { host.connections.release(key: countedKey) }
        heartbeats?.remove(self)
        authDeadline?.cancel()
        output?.detach()
        host.unregister(context.channel)
        host.metrics.connectionsOpen.subtract(1)
        let duration = Double((NIODeadline.now() - openedAt).nanoseconds) / 1e9
        let dropRate = 100 * Double(droppedFrames) / Double(max(1, packetsSent))
        logger.info("connection closed", metadata: [
            "event": "connection_closed", "code": "\(closeCode.map(\.description) ?? "none")",
            "packets_sent": "\(packetsSent)", "packets_received": "\(packetsReceived)",
            "dropped_frames": "\(droppedFrames)", "drop_rate_percent": "\(dropRate)", "duration_s": "\(duration)",
        ])
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        output?.isWritable = context.channel.isWritable
        // A client that does not read gets nothing more read from it either: its
        // requests would only pile up replies the host must hold.
        try? context.channel.syncOptions?.setOption(.autoRead, value: context.channel.isWritable)
        if context.channel.isWritable {
            var wrote = false
            for subscription in subscriptions.values where subscription.queuedCount > 0 {
                wrote = subscription.drain() > 0 || wrote
            }
            if wrote { output?.flush() }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ServerShutdownEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        for subscription in subscriptions.values {
            subscription.notify(.ended(.serverShutdown, message: "the server is shutting down; reconnect later"))
        }
        endAllSubscriptions()
        close(.goingAway, reason: "server shutting down")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO's protocol error handler has written a close frame through NIO, past this
        // session's output: from now on every byte follows it through NIO.
        if error is NIOWebSocketError { output?.writeOnlyThroughNIO() }
        switch error {
        case let violation as ClientFrameViolation:
            close(violation.closeCode, reason: violation.description)
        case let aggregation as NIOWebSocketFrameAggregator.Error:
            switch aggregation {
            case .accumulatedFrameSizeIsTooLarge, .tooManyFragments:
                close(.messageTooBig, reason: "message larger than \(configuration.maxFrameSize) bytes")
            default:
                close(.protocolError, reason: "bad sequence of continuation frames")
            }
        case NIOWebSocketError.invalidFrameLength:
            close(.messageTooBig, reason: "frame larger than \(configuration.maxFrameSize) bytes")
        case is NIOWebSocketError:
            // The protocol error handler has answered and is closing the connection.
            closeCode = closeCode ?? .protocolError
        case let io as IOError where Self.meansThePeerLeft(io):
            // A client that vanished (reset, broken pipe) is no fault of the host: its
            // connection ends like any other that closes without a close frame.
            logger.debug("connection reset by the client", metadata: ["event": "connection_reset", "error": "\(io)"])
            context.close(promise: nil)
        default:
            guard context.channel.isActive else { return }
            logger.warning("connection error", metadata: ["event": "connection_error", "error": "\(error)"])
            endAllSubscriptions()
            close(.internalError, reason: "internal error")
        }
    }

    /// Errors that say the client went away rather than that anything failed here.
    private static func meansThePeerLeft(_ error: IOError) -> Bool {
        error.errnoCode == ECONNRESET || error.errnoCode == EPIPE || error.errnoCode == ETIMEDOUT
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Once a close has begun, nothing more the client sends is evaluated; nor is what
        // the decoder hands on after the socket closed (before channelInactive reaches
        // here): nothing could answer it, and a direct write must not reach the descriptor.
        guard !isClosing, context.channel.isActive else { return }
        let frame = unwrapInboundIn(data)
        lastSignOfLife = context.eventLoop.now
        switch frame.opcode {
        case .text:
            packetsReceived += 1
            handleText(frame.unmaskedData)
        case .binary:
            packetsReceived += 1
            rejectInvalid(.invalidMessage, "binary frames are not part of the protocol; send JSON text frames")
        case .ping:
            if let output {
                output.write(ServerFrames.pong(frame.unmaskedData, allocator: context.channel.allocator))
                output.flush()
            }
        case .connectionClose:
            answerClose(frame.unmaskedData)
        default:
            break
        }
    }

    // MARK: Messages

    /// Answers the client's close frame: its code echoed when a peer may send it (an
    /// empty close is answered with 1000), 1002 for a malformed frame or a reserved
    /// code, 1007 for a reason that is not UTF-8.
    private func answerClose(_ payload: ByteBuffer) {
        var payload = payload
        guard let raw = payload.readInteger(as: UInt16.self) else {
            return payload.readableBytes == 0
                ? close(.normalClosure, reason: "")
                : close(.protocolError, reason: "a close frame carries a 2-byte code")
        }
        let code = CloseCode(rawValue: raw)
        guard code.mayBeSentByPeer else {
            return close(.protocolError, reason: "close code \(raw) is reserved")
        }
        guard String(validating: payload.readableBytesView, as: UTF8.self) != nil else {
            return close(.invalidPayload, reason: "the close reason is not valid UTF-8")
        }
        close(code, reason: "")
    }

    /// Spends one message of the client's allowance; false once it has sent more than
    /// its rate allows, even counting the burst.
    private func spendMessageAllowance(now: NIODeadline) -> Bool {
        let rate = configuration.limits.maxMessagesPerSecond
        let elapsed = Double((now - allowanceUpdatedAt).nanoseconds) / 1e9
        allowanceUpdatedAt = now
        messageAllowance = min(2 * rate, messageAllowance + elapsed * rate)
        guard messageAllowance >= 1 else { return false }
        messageAllowance -= 1
        return true
    }

    private func handleText(_ buffer: ByteBuffer) {
        guard let channel, spendMessageAllowance(now: channel.eventLoop.now) else {
            logger.info("message rate limit", metadata: ["event": "message_rate_limit"])
            return close(.policyViolation, reason: "more than \(configuration.limits.maxMessagesPerSecond) messages per second")
        }
        let bytes = Array(buffer.readableBytesView)
        guard String(validating: bytes, as: UTF8.self) != nil else {
            host.metrics.invalidMessages.add(1)
            return close(.invalidPayload, reason: "text messages must be valid UTF-8")
        }
        let message: JSONValue
        do {
            message = try JSONParser.parse(bytes)
        } catch {
            rejectInvalid(.invalidMessage, "the message is not valid JSON: \(error.description)")
            return
        }
        guard let object = message.objectValue else {
            rejectInvalid(.invalidMessage, "a message must be a JSON object with a 'type', found \(message.typeDescription)")
            return
        }
        guard let type = object["type"]?.stringValue else {
            rejectInvalid(.invalidMessage, "the message has no 'type' (a string such as \"subscribe\")")
            return
        }
        let payload = object["payload"]?.objectValue
        switch MessageType(type) {
        case .`init`: invalidInARow = 0; handleInit(payload)
        case .auth: invalidInARow = 0; handleAuth(payload)
        case .subscribe: invalidInARow = 0; handleSubscribe(payload, raw: object["payload"])
        case .unsubscribe: invalidInARow = 0; handleUnsubscribe(payload)
        case .pong: invalidInARow = 0
        case .close:
            invalidInARow = 0
            endAllSubscriptions()
            close(.normalClosure, reason: "closed at the client's request")
        default:
            let known = MessageType.clientTypes.map(\.rawValue)
            // A suggestion is worth its edit-distance work only for a name of plausible length.
            let hint = type.utf8.count <= 64 ? Suggestions.didYouMean(type, in: known) : ""
            rejectInvalid(.unknownMessageType, "unknown message type '\(type.prefix(utf8Bytes: 64))'\(hint.isEmpty ? ";" : hint) known types: \(known.joined(separator: ", "))")
        }
    }

    /// Answers an invalid message; the tenth in a row closes the connection with 1008.
    private func rejectInvalid(_ code: ErrorCode, _ text: String) {
        host.metrics.invalidMessages.add(1)
        invalidInARow += 1
        send(.error(code, text))
        if invalidInARow >= configuration.maxInvalidMessages {
            logger.info("too many invalid messages", metadata: ["event": "invalid_messages_limit"])
            close(.policyViolation, reason: "too many invalid messages")
        }
    }

    private func handleInit(_ payload: JSONObject?) {
        if let version = payload?["protocol_version"], version != .null {
            let text = version.stringValue ?? version.numberValue.map { String($0) } ?? ""
            let major = text.split(separator: ".").first.map(String.init) ?? text
            guard major == ProtocolVersion.major else {
                send(.error(.initFailed, "protocol version '\(text.isEmpty ? version.jsonText : text)' is not supported; this server speaks \(ProtocolVersion.current)"))
                return
            }
        }
        send(.initReply(
            server: "hyphae/\(HyphaeVersion.current)", authRequired: host.authenticator.isRequired,
            heartbeatIntervalMilliseconds: Int(configuration.heartbeatInterval * 1000),
            heartbeatTimeoutMilliseconds: Int(configuration.heartbeatTimeout * 1000)))
    }

    private func handleAuth(_ payload: JSONObject?) {
        let now = WallClock.nowMilliseconds()
        switch host.authenticator.authenticate(payload, now: now) {
        case .accepted(let key):
            if let limitKey = key.limitKey, limitKey != countedKey {
                if let refusal = host.connections.admit(key: limitKey) {
                    host.metrics.authFailures.add(1)
                    logger.info("connection limit per key", metadata: ["event": "key_connection_limit", "key_id": "\(key.displayID)"])
                    send(.authFailed(.tooManyConnections, refusal.description))
                    return close(.policyViolation, reason: "too many connections for this key")
                }
                if let countedKey { host.connections.release(key: countedKey) }
                countedKey = limitKey
            }
            identity = key
            failedAuthAttempts = 0
            authDeadline?.cancel()
            host.metrics.authSuccesses.add(1)
            logger.info("authenticated", metadata: ["event": "auth_success", "key_id": "\(key.displayID)"])
            send(.authSuccess(keyID: key.displayID))
        case .rejected(let reason):
            authFailed(code: .authFailed, message: "Invalid API key or timestamp", reason: reason)
        case .malformed(let problem):
            authFailed(code: .authError, message: problem, reason: "malformed: \(problem)")
        }
    }

    private func authFailed(code: ErrorCode, message: String, reason: String) {
        failedAuthAttempts += 1
        host.metrics.authFailures.add(1)
        logger.info("authentication failed", metadata: ["event": "auth_failed", "reason": "\(reason)", "attempt": "\(failedAuthAttempts)"])
        send(.authFailed(code, message))
        if failedAuthAttempts >= configuration.maxAuthAttempts {
            close(.policyViolation, reason: "too many failed auth attempts")
        }
    }

    private func handleSubscribe(_ payload: JSONObject?, raw: JSONValue?) {
        let streamID = payload?["stream_id"]?.stringValue
        func fail(_ code: ErrorCode, _ message: String) {
            host.metrics.subscribeFailures.add(1)
            logger.info("subscribe refused", metadata: ["event": "subscribe_failed", "error_code": "\(code)", "stream_id": "\(streamID ?? "")"])
            send(.subscribeFailed(code, message, streamID: streamID))
        }
        if endpoint == .heartbeat {
            return fail(.subscriptionsNotSupported, "/ws/heartbeat carries heartbeats only; subscribe on /ws or on a pipeline's path")
        }
        guard isAuthenticated else {
            return fail(.notAuthenticated, "authenticate first: send an 'auth' message with your api_key and timestamp")
        }
        guard let payload else {
            return fail(.subscribeError, "the subscribe payload must be an object with 'stream_id' (and 'stream_type', 'params'), found \(raw?.typeDescription ?? "nothing")")
        }
        guard let streamID, StreamIDRules.isValid(streamID) else {
            let found = payload["stream_id"].map { $0.stringValue.map(StreamIDRules.describe) ?? $0.typeDescription } ?? "nothing"
            return fail(.subscribeError, "stream_id must be \(StreamIDRules.requirement), found \(found)")
        }
        let requestedType = payload["stream_type"]
        if let requestedType, requestedType != .null, requestedType.stringValue == nil {
            return fail(.subscribeError, "stream_type must be a string (a pipeline name), found \(requestedType.typeDescription)")
        }
        let definition: PipelineDefinition
        switch resolvePipeline(requested: requestedType?.stringValue) {
        case .success(let found): definition = found
        case .failure(let refusal): return fail(refusal.code, refusal.message)
        }
        if let identity, !identity.mayRead(definition.name) {
            return fail(.forbidden, "the key '\(identity.displayID)' may not read '\(definition.name)'")
        }
        guard subscriptions[streamID] == nil else {
            return fail(.duplicateStreamID, "this connection already has a subscription '\(streamID)'; choose another stream_id or unsubscribe first")
        }
        guard subscriptions.count < configuration.maxSubscriptionsPerConnection else {
            return fail(.tooManySubscriptions, "a connection may hold \(configuration.maxSubscriptionsPerConnection) subscriptions; unsubscribe from one first")
        }
        let given = payload["params"]
        if let given, given != .null, given.objectValue == nil {
            return fail(.subscribeError, "params must be an object of param names to values, found \(given.typeDescription)")
        }
        let configured: PipelineConfiguration
        switch definition.resolveParams(given?.objectValue).flatMap({ definition.configure(with: $0) }) {
        case .success(let result): configured = result
        case .failure(let error): return fail(.subscribeError, error.description)
        }
        var since: ResumePoint?
        if let requested = payload["since"], requested != .null {
            switch ResumePoint.parse(requested) {
            case .success(let point): since = point
            case .failure(let problem): return fail(.subscribeError, problem.description)
            }
        }
        let statusRequest = payload["stream_status"]
        if let statusRequest, statusRequest != .null, statusRequest.boolValue == nil {
            return fail(.subscribeError, "stream_status must be true or false (whether to send stream_status notices), found \(statusRequest.typeDescription)")
        }
        guard let sink = sinkConfiguration(of: configured) else {
            return fail(.unknownStream, "'\(definition.name)' has no websocket sink, so it cannot be subscribed to")
        }
        guard let channel, let output, output.isOpen else { return }
        let instance: PipelineInstance
        switch host.instances.acquire(definition, configuration: configured, key: identity?.limitKey) {
        case .success(let acquired): instance = acquired
        case .failure(.pipelineFull(let limit)):
            return fail(.capacity, "'\(definition.name)' is running its maximum of \(limit) instances; try again later or subscribe with the params of a running one")
        case .failure(.hostFull(let limit)):
            return fail(.capacity, "the host is running its maximum of \(limit) pipeline instances; try again later or subscribe with the params of a running one")
        case .failure(.keyFull(let limit)):
            return fail(.capacity, "this key's subscribers have started its maximum of \(limit) pipeline instances; unsubscribe from some, or subscribe with the params of a running one")
        }
        let subscription = Subscription(
            streamID: streamID, pipeline: definition.name, policy: sink.backpressure, capacity: sink.queueSize,
            byteCapacity: sink.maxQueueBytes, budget: host.queuedBytes,
            output: output, fanOut: instance.fanOut, params: configured.params
        )
        subscription.owner = self
        subscription.wantsStreamStatus = statusRequest?.boolValue == true
        subscriptions[streamID] = subscription
        host.metrics.subscriptionsActive.add(1)
        instance.metrics.subscribers.add(1)
        let tell: (ResumeOutcome) -> Void = { [self] outcome in
            send(.subscribeSuccess(
                streamID: streamID, pipeline: definition.name, params: configured.params.values,
                pipelineVersion: definition.version, resume: outcome))
            var metadata: Logger.Metadata = [
                "event": "subscribed", "stream_id": "\(streamID)", "pipeline": "\(definition.name)", "instance": "\(instance.id)",
                "epoch": "\(outcome.epoch)", "sequence": "\(outcome.sequence)",
            ]
            if let since {
                metadata["since_sequence"] = "\(since.sequence)"
                metadata["recovered"] = "\(outcome.recovered ?? false)"
                if let missed = outcome.missed { metadata["missed"] = "\(missed)" }
            }
            logger.info("subscribed", metadata: metadata)
        }
        if let slot = instance.replaySlot, !instance.fanOut.history.answers(since) {
            // A relayed stream this host cannot answer for alone: its source knows the
            // producer's epoch and can read the frames after `since` again.
            instance.startIfNeeded()
            joinAfterReplay(subscription, of: instance, from: slot, since: since, on: channel.eventLoop, tell: tell)
            return
        }
        instance.fanOut.join(subscription, on: channel.eventLoop, since: since, before: tell)
        Self.tellIfStalled(subscription, of: instance)
        instance.startIfNeeded()
    }

    /// A subscriber that joins a stalled stream is told at once, behind its replay,
    /// rather than at the next change.
    private static func tellIfStalled(_ subscription: Subscription, of instance: PipelineInstance) {
        let state = instance.sourceState
        guard subscription.wantsStreamStatus, case .stalled = state else { return }
        subscription.notify(.status(state, sequence: instance.fanOut.history.latestSequence))
        subscription.output.flush()
    }

    /// How long a subscribe waits for a relaying source to replay what its history lacks.
    static let replayTimeout: Duration = .seconds(3)

    /// Asks the instance's source for its position and the frames after `since`, off
    /// the loop, then joins the subscription on it (when it is still wanted). Without
    /// an answer in time it joins as if the source could not replay.
    private func joinAfterReplay(
        _ subscription: Subscription, of instance: PipelineInstance, from slot: ReplaySlot, since: ResumePoint?,
        on eventLoop: EventLoop, tell: @escaping (ResumeOutcome) -> Void
    ) {
        let held = instance.fanOut.history.limits
        let limits = ReplayLimits(frames: held.frames, bytes: held.bytes, timeout: Self.replayTimeout)
        let point = since.map { StreamPosition(epoch: $0.epoch, sequence: $0.sequence) }
        let replayed = eventLoop.makeFutureWithTask { () -> FrameHistory.RelayedReplay? in
            guard let replay = await slot.replay(after: point, limits: limits), let position = replay.position else { return nil }
            var encoder = FrameEncoder()
            let frames = replay.frames.map { $0.map { encoder.encode($0) } }
            return FrameHistory.RelayedReplay(position: position, frames: frames)
        }
        replayed.assumeIsolated().whenComplete { [self] result in
            guard subscriptions[subscription.streamID] === subscription, let output, output.isOpen, !isClosing else { return }
            guard host.instances.isRunning(instance) else {
                // It ended, or a reload retired it, while the source was asked: its
                // notices went to the subscribers it had, so this one is told here.
                subscription.notify(.failed(message: "the stream's instance ended while this subscription was resuming; subscribe again"))
                output.flush()
                return
            }
            if case .success(let relayed?) = result {
                instance.fanOut.join(subscription, on: eventLoop, since: since, relayed: relayed, before: tell)
            } else {
                instance.fanOut.join(subscription, on: eventLoop, since: since, before: tell)
            }
            Self.tellIfStalled(subscription, of: instance)
        }
    }

    private struct Refusal: Error {
        var code: ErrorCode
        var message: String
    }

    private func resolvePipeline(requested: String?) -> Result<PipelineDefinition, Refusal> {
        let names = host.pipelines.map(\.name)
        switch endpoint {
        case .pipeline(let name, let path):
            if let requested, requested != name {
                if let other = host.pipeline(named: requested) {
                    let where_ = other.endpointPaths.first.map { "connect to \($0) or /ws" } ?? "connect to /ws"
                    return .failure(Refusal(code: .unknownStream, message: "'\(requested)' is not served on \(path); \(where_)"))
                }
                return .failure(Refusal(code: .unknownStream, message: "no pipeline named '\(requested)'\(Suggestions.didYouMean(requested, in: names)); \(path) serves '\(name)'"))
            }
            guard let definition = host.pipeline(named: name), definition.endpointPaths.contains(path) else {
                return .failure(Refusal(code: .unknownStream, message: "\(path) no longer serves '\(name)'"))
            }
            return .success(definition)
        case .anyPipeline:
            guard let requested else {
                return .failure(Refusal(code: .subscribeError, message: "stream_type is required on /ws: name a pipeline (one of \(names.joined(separator: ", ")))"))
            }
            guard let definition = host.pipeline(named: requested) else {
                return .failure(Refusal(code: .unknownStream, message: "no pipeline named '\(requested)'\(Suggestions.didYouMean(requested, in: names)) (available: \(names.joined(separator: ", ")))"))
            }
            return .success(definition)
        case .heartbeat:
            return .failure(Refusal(code: .subscriptionsNotSupported, message: "/ws/heartbeat carries heartbeats only"))
        }
    }

    /// The WebSocket sink whose path this connection came in on (the first one on `/ws`).
    private func sinkConfiguration(of configuration: PipelineConfiguration) -> WebSocketSinkConfiguration? {
        let sinks = configuration.sinkConfigurations(of: WebSocketSinkConfiguration.self)
        return sinks.first { $0.path == endpoint.path } ?? sinks.first
    }

    private func handleUnsubscribe(_ payload: JSONObject?) {
        guard let streamID = payload?["stream_id"]?.stringValue else {
            send(.error(.invalidMessage, "unsubscribe needs a payload with the 'stream_id' to end"))
            return
        }
        guard StreamIDRules.isValid(streamID) else {
            send(.error(.invalidMessage, "stream_id must be \(StreamIDRules.requirement), found \(StreamIDRules.describe(streamID))"))
            return
        }
        guard let subscription = subscriptions[streamID] else {
            // The reply does not list the connection's ids: it must not grow with what the client sends.
            let held = subscriptions.count == 1 ? "1 subscription" : "\(subscriptions.count) subscriptions"
            send(.error(.unknownStreamID, "no subscription '\(streamID)' on this connection, which holds \(held); unsubscribe with the stream_id you subscribed with", streamID: streamID))
            return
        }
        remove(subscription)
        send(.unsubscribed(
            streamID: streamID, packetsSent: subscription.packetsSent, droppedFrames: subscription.droppedFrames,
            durationSeconds: subscription.durationSeconds))
    }

    // MARK: Subscriptions

    private func remove(_ subscription: Subscription) {
        guard subscriptions[subscription.streamID] === subscription else { return }
        subscriptions[subscription.streamID] = nil
        subscription.cancel()
        if let eventLoop = channel?.eventLoop {
            subscription.fanOut.detach(subscription, on: eventLoop)
        }
        host.instances.release(feedingFrom: subscription.fanOut)
        host.metrics.subscriptionsActive.subtract(1)
        subscription.fanOut.metrics.subscribers.subtract(1)
        packetsSent += subscription.packetsSent
        droppedFrames += subscription.droppedFrames
        logger.info("unsubscribed", metadata: [
            "event": "unsubscribed", "stream_id": "\(subscription.streamID)", "pipeline": "\(subscription.pipeline)",
            "packets_sent": "\(subscription.packetsSent)", "dropped_frames": "\(subscription.droppedFrames)",
            "duration_s": "\(subscription.durationSeconds)",
        ])
    }

    private func endAllSubscriptions() {
        for subscription in Array(subscriptions.values) { remove(subscription) }
    }

    func subscriptionEnded(_ subscription: Subscription) {
        remove(subscription)
    }

    func slowConsumerDetected(_ subscription: Subscription) {
        logger.info("slow consumer", metadata: ["event": "slow_consumer", "stream_id": "\(subscription.streamID)", "dropped_frames": "\(subscription.droppedFrames)"])
        // Closed after the delivery under way has finished with this connection.
        channel?.eventLoop.assumeIsolated().execute { [self] in
            endAllSubscriptions()
            close(.slowConsumer, reason: "slow consumer: the subscription queue overflowed")
        }
    }

    // MARK: Output

    private func send(_ message: ServerMessage, flush: Bool = true) {
        guard let output, output.isOpen, !isClosing else { return }
        if !output.isWritable, let held = try? channel?.syncOptions?.getOption(.bufferedWritableBytes), held > configuration.limits.maxOutboundBytes {
            logger.info("outbound limit", metadata: ["event": "outbound_limit", "bytes": "\(held)"])
            return close(.outboundOverflow, reason: "the client does not read: over \(configuration.limits.maxOutboundBytes) bytes held")
        }
        // A writer per message rather than per connection (inside `message`): control
        // messages are rare, and an idle connection should not carry an encoding buffer.
        output.write(ServerFrames.message(message, allocator: output.allocator))
        packetsSent += 1
        if flush { output.flush() }
    }

    /// Sends a close frame with `code`, then closes the socket once it is written
    /// (or after a grace period, for a peer that no longer reads).
    private func close(_ code: CloseCode, reason: String) {
        guard !isClosing, let channel, let output else { return }
        isClosing = true
        closeCode = code
        host.metrics.closed(code: code)
        heartbeats?.remove(self)
        authDeadline?.cancel()
        let written = channel.eventLoop.makePromise(of: Void.self)
        output.write(ServerFrames.close(code, reason: reason, allocator: output.allocator), promise: written)
        output.flush()
        let grace = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        written.futureResult.whenComplete { _ in
            grace.cancel()
            channel.close(promise: nil)
        }
    }

    // MARK: Heartbeats

    func heartbeatTick(now: NIODeadline) {
        guard !isClosing else { return }
        if now - lastSignOfLife >= .interval(seconds: configuration.heartbeatTimeout) {
            logger.info("heartbeat timeout", metadata: ["event": "heartbeat_timeout"])
            endAllSubscriptions()
            close(.heartbeatTimeout, reason: "heartbeat timeout: no sign of life")
            return
        }
        if now - lastHeartbeat >= .interval(seconds: configuration.heartbeatInterval) {
            lastHeartbeat = now
            send(.heartbeat)
        }
    }
}
