import HyphaeCore
import NIOCore
import NIOPosix
import Synchronization

/// A pipeline's counters as the host reports them at `GET /pipelines`.
public struct HostCounters: Sendable, Equatable {
    public var framesSent: Int
    public var framesDropped: Int
    public var framesEmitted: Int

    /// Reads `GET /pipelines` over a plain HTTP/1.1 connection; nil when the
    /// server does not answer it (the ceiling server) or does not know the pipeline.
    public static func fetch(host: String, port: Int, pipeline: String, group: EventLoopGroup) async -> HostCounters? {
        await fetch(host: host, port: port, pipeline: pipeline, group: group, tls: nil)
    }

    /// As above, over TLS (https://) when `tls` is given.
    static func fetch(host: String, port: Int, pipeline: String, group: EventLoopGroup, tls: BenchTLS?) async -> HostCounters? {
        guard let body = await httpGet(host: host, port: port, path: "/pipelines", group: group, tls: tls),
            let document = try? JSONParser.parse(body),
            let pipelines = document.objectValue?["pipelines"]?.arrayValue
        else { return nil }
        for entry in pipelines {
            guard let object = entry.objectValue, object["name"]?.stringValue == pipeline else { continue }
            guard let sent = object["frames_sent"]?.numberValue, let dropped = object["frames_dropped"]?.numberValue else { return nil }
            let emitted = object["frames_emitted"]?.numberValue ?? 0
            return HostCounters(framesSent: Int(sent), framesDropped: Int(dropped), framesEmitted: Int(emitted))
        }
        return nil
    }

    static func httpGet(host: String, port: Int, path: String, group: EventLoopGroup, tls: BenchTLS? = nil) async -> [UInt8]? {
        let collector = ResponseCollector()
        let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeHandler()) }
                try channel.pipeline.syncOperations.addHandler(collector)
            }
        }
        guard let channel = try? await bootstrap.connect(host: host, port: port).get() else { return nil }
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
        try? await channel.writeAndFlush(ByteBuffer(string: request)).get()
        try? await channel.closeFuture.get()
        let response = collector.response.withLock { $0 }
        guard let start = response.withUnsafeBytes({ WebSocketWire.headEnd(in: $0) }) else { return nil }
        return Array(response[start...])
    }
}

private final class ResponseCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let response = Mutex<[UInt8]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        response.withLock { $0.append(contentsOf: buffer.readableBytesView) }
    }
}
