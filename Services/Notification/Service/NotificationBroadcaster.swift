import Foundation
import NIOCore

/// Fans SENT notifications out to the live streams (GET /notifications/stream). The delivery
/// worker publishes after its commit, so a client only ever sees notifications that are SENT.
///
/// Each subscriber has a bounded buffer; a client that falls that far behind is disconnected
/// rather than silently skipped or allowed to grow memory without bound. It can reconnect and
/// catch up with GET /notifications.
final class NotificationBroadcaster: @unchecked Sendable {
    struct Subscription: Sendable {
        let id: UInt64
        let stream: AsyncStream<ByteBuffer>
        let continuation: AsyncStream<ByteBuffer>.Continuation
    }

    let bufferLimit: Int
    private let lock = NSLock()
    private var subscribers: [UInt64: AsyncStream<ByteBuffer>.Continuation] = [:]
    private var nextId: UInt64 = 0
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(bufferLimit: Int = 1024) {
        self.bufferLimit = bufferLimit
    }

    var subscriberCount: Int { lock.withLock { subscribers.count } }

    func subscribe() -> Subscription {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let id = lock.withLock {
            nextId += 1
            subscribers[nextId] = continuation
            return nextId
        }
        return Subscription(id: id, stream: stream, continuation: continuation)
    }

    /// Removes the subscriber and ends its stream; idempotent.
    func unsubscribe(_ id: UInt64) {
        let continuation = lock.withLock { subscribers.removeValue(forKey: id) }
        continuation?.finish()
    }

    func publish(_ notifications: [NotificationView]) {
        guard !notifications.isEmpty else { return }
        let current = lock.withLock { subscribers }
        guard !current.isEmpty else { return }
        let frames = notifications.compactMap { view in
            (try? encoder.encode(view)).map { ServerSentEvents.event("notification", data: $0) }
        }
        for (id, continuation) in current {
            for frame in frames {
                if case .dropped = continuation.yield(frame) {
                    unsubscribe(id)
                    break
                }
            }
        }
    }
}

/// The text/event-stream framing.
enum ServerSentEvents {
    /// A comment line: ignored by clients, keeps proxies from closing an idle connection and
    /// makes a vanished client show up as a failed write.
    static let heartbeat = ByteBuffer(string: ": heartbeat\n\n")

    /// `data` must be one line (compact JSON is).
    static func event(_ name: String, data: Data) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(data.count + name.utf8.count + 16)
        buffer.writeString("event: \(name)\ndata: ")
        buffer.writeBytes(data)
        buffer.writeString("\n\n")
        return buffer
    }
}
