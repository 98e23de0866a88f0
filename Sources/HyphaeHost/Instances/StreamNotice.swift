import HyphaeCore
import HyphaeProtocol
import NIOCore

/// What a subscriber is told about its stream besides its frames. Every notice goes
/// through `Subscription.notify`, which builds it (with `ServerMessage`) and puts it
/// in order with the subscription's frames.
enum StreamNotice: Sendable, Equatable {
    /// The subscription now reads a new version of its pipeline.
    case reloaded(pipelineVersion: String, params: JSONObject)
    /// The stream is over; `stream_end` with this reason is the subscription's last message.
    case ended(StreamEndReason, message: String)
    /// A stage failed: an `error` with `STREAM_ERROR`, then `stream_end` with `error`.
    case failed(message: String)
    /// The source stopped getting frames (a service it reads does not answer), or gets
    /// them again; only to subscribers that asked (`stream_status`). `sequence` is the
    /// last frame published before the change.
    case status(SourceFlow.State, sequence: Int)

    /// How a run's end reads to its subscribers.
    init(_ end: StreamEnd) {
        switch end {
        case .failed(let description): self = .failed(message: description)
        case .complete, .cancelled: self = .ended(.complete, message: "the stream is complete")
        }
    }
}

extension Subscription {
    /// Sends `notice` behind the frames already queued (`server_shutdown` replaces
    /// them, as PROTOCOL.md says); an ending notice finishes the subscription once written.
    func notify(_ notice: StreamNotice, timestamp: Double = WallClock.nowMilliseconds()) {
        let allocator = output.allocator
        switch notice {
        case .reloaded(let version, let params):
            let message = ServerMessage.streamReloaded(streamID: streamID, pipelineVersion: version, params: params)
            offerNotice(ServerFrames.message(message, timestamp: timestamp, allocator: allocator))
        case .ended(let reason, let text):
            end(reason, text, timestamp: timestamp, allocator: allocator)
        case .status(let state, let sequence):
            guard wantsStreamStatus else { return }
            let message: ServerMessage
            switch state {
            case .stalled(let reason):
                guard !toldStalled else { return }
                message = .streamStatus(streamID: streamID, stalled: true, reason: reason, sequence: sequence)
            case .flowing:
                // `flowing` answers a `stalled` this subscriber was sent, and nothing else.
                guard toldStalled else { return }
                message = .streamStatus(streamID: streamID, stalled: false, reason: nil, sequence: sequence)
            }
            toldStalled.toggle()
            offerNotice(ServerFrames.message(message, timestamp: timestamp, allocator: allocator))
        case .failed(let text):
            let error = ServerMessage.error(.streamError, text, streamID: streamID, timestamp: timestamp)
            offerNotice(ServerFrames.message(error, timestamp: timestamp, allocator: allocator))
            end(.error, text, timestamp: timestamp, allocator: allocator)
        }
    }

    private func end(_ reason: StreamEndReason, _ text: String, timestamp: Double, allocator: ByteBufferAllocator) {
        let discarding = reason == .serverShutdown
        // Frames still queued ahead of stream_end can no longer be dropped: by the time
        // the client reads it they are sent, so they count.
        let message = ServerMessage.streamEnd(
            streamID: streamID, reason: reason, message: text,
            packetsSent: packetsSent + (discarding ? 0 : queuedFrameCount), droppedFrames: droppedFrames)
        end(with: ServerFrames.message(message, timestamp: timestamp, allocator: allocator), discardingQueued: discarding)
    }
}
