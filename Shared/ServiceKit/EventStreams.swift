import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Server-sent events, written once: the fan-out of frames to the open streams and the response
/// that pumps one stream to its client. Notification's `GET /notifications/stream` and the
/// console's live page use both.
///
/// Each stream has a bounded buffer. What happens to a client that falls that far behind is the
/// owner's choice (`SlowStream`): disconnected (it reconnects and catches up from a listing), or
/// its oldest frames dropped (a live view that only wants the latest). Memory never grows with a
/// slow client, and at most `maxStreams` are open at once.
public final class EventFanOut: @unchecked Sendable {
    public enum SlowStream: Sendable {
        case disconnect(buffer: Int)
        case dropOldest(buffer: Int)
    }

    public struct Subscription: Sendable {
        public let id: UInt64
        public let stream: AsyncStream<ByteBuffer>
        let continuation: AsyncStream<ByteBuffer>.Continuation
    }

    public let maxStreams: Int
    private let slow: SlowStream
    private let lock = NSLock()
    /// Each stream and the audience it is limited to (nil: every frame).
    private var streams: [UInt64: (continuation: AsyncStream<ByteBuffer>.Continuation, audience: String?)] = [:]
    private var nextId: UInt64 = 0

    public init(maxStreams: Int, slow: SlowStream) {
        self.maxStreams = maxStreams
        self.slow = slow
    }

    public var streamCount: Int { lock.withLock { streams.count } }

    /// A new stream of the frames for `audience` (nil: all of them), or nil when `maxStreams`
    /// are open already.
    public func subscribe(audience: String? = nil) -> Subscription? {
        let policy: AsyncStream<ByteBuffer>.Continuation.BufferingPolicy = switch slow {
        case .disconnect(let buffer): .bufferingOldest(buffer)
        case .dropOldest(let buffer): .bufferingNewest(buffer)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: policy)
        let id = lock.withLock { () -> UInt64? in
            guard streams.count < maxStreams else { return nil }
            nextId += 1
            streams[nextId] = (continuation, audience)
            return nextId
        }
        guard let id else { return nil }
        return Subscription(id: id, stream: stream, continuation: continuation)
    }

    /// Ends the stream; idempotent.
    public func unsubscribe(_ id: UInt64) {
        let stream = lock.withLock { streams.removeValue(forKey: id) }
        stream?.continuation.finish()
    }

    /// Each frame to the streams of its audience and to those that take every frame.
    public func publish(_ frames: [(audience: String?, frame: ByteBuffer)]) {
        guard !frames.isEmpty else { return }
        let current = lock.withLock { streams }
        for (id, stream) in current {
            for (audience, frame) in frames where stream.audience == nil || stream.audience == audience {
                if case .dropped = stream.continuation.yield(frame), case .disconnect = slow {
                    unsubscribe(id)
                    break
                }
            }
        }
    }
}

/// The text/event-stream framing, and the response that serves one subscription.
public enum ServerSentEvents {
    /// A comment line: ignored by clients, keeps proxies from closing an idle connection and
    /// makes a vanished client show up as a failed write.
    public static let heartbeat = ByteBuffer(string: ": heartbeat\n\n")

    /// `data` must be one line (compact JSON is).
    public static func event(_ name: String, data: Data) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(data.count + name.utf8.count + 16)
        buffer.writeString("event: \(name)\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }

    /// Streams `subscription` until the client goes away or the server shuts down, with
    /// `periodic()` every `interval` in between (a heartbeat, or a summary that is one): a client
    /// that went away makes a write throw at the latest then, and its stream is ended.
    public static func response(_ subscription: EventFanOut.Subscription, of fanOut: EventFanOut, every interval: Duration,
                                periodic: @escaping @Sendable () -> ByteBuffer = { heartbeat }) -> Response {
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        headers[HTTPFields.Element.Name("X-Accel-Buffering")!] = "no"  // reverse proxies: pass events through at once
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let ticker = Task { [continuation = subscription.continuation] in
                while (try? await Task.sleep(for: interval)) != nil {
                    continuation.yield(periodic())
                }
            }
            defer {
                ticker.cancel()
                fanOut.unsubscribe(subscription.id)
            }
            // An endless response would hold up the server's graceful shutdown: end it then.
            try await withGracefulShutdownHandler {
                // Sends the headers at once, so the client knows it is subscribed.
                try await writer.write(ByteBuffer(string: ": subscribed\n\n"))
                for await frame in subscription.stream {
                    try await writer.write(frame)
                }
                try await writer.finish(nil)
            } onGracefulShutdown: {
                fanOut.unsubscribe(subscription.id)
            }
        })
    }
}
