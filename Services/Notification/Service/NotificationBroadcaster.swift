import Foundation
import NIOCore
import SagaAPI

/// Fans SENT notifications out to the live streams (GET /notifications/stream). The delivery
/// worker publishes after its commit, so a client only ever sees notifications that are SENT.
///
/// Each subscriber has a bounded buffer; a client that falls that far behind is disconnected
/// rather than silently skipped or allowed to grow memory without bound. It can reconnect and
/// catch up with GET /notifications. A subscriber may be limited to one customer's
/// notifications, and there are at most `maxSubscribers` at once.
final class NotificationBroadcaster: @unchecked Sendable {
    struct Subscription: Sendable {
        let id: UInt64
        let stream: AsyncStream<ByteBuffer>
        let continuation: AsyncStream<ByteBuffer>.Continuation
    }

    let bufferLimit: Int
    let maxSubscribers: Int
    private let lock = NSLock()
    /// Each subscriber's stream and the customer it is limited to (nil: every customer).
    private var subscribers: [UInt64: (continuation: AsyncStream<ByteBuffer>.Continuation, customer: String?)] = [:]
    private var nextId: UInt64 = 0
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(bufferLimit: Int = 1024, maxSubscribers: Int = 256) {
        self.bufferLimit = bufferLimit
        self.maxSubscribers = maxSubscribers
    }

    var subscriberCount: Int { lock.withLock { subscribers.count } }

    /// A new subscription to `customer`'s notifications (nil: everyone's), or nil when
    /// `maxSubscribers` are open already.
    func subscribe(customer: String?) -> Subscription? {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let id = lock.withLock { () -> UInt64? in
            guard subscribers.count < maxSubscribers else { return nil }
            nextId += 1
            subscribers[nextId] = (continuation, customer)
            return nextId
        }
        guard let id else { return nil }
        return Subscription(id: id, stream: stream, continuation: continuation)
    }

    /// Removes the subscriber and ends its stream; idempotent.
    func unsubscribe(_ id: UInt64) {
        let subscriber = lock.withLock { subscribers.removeValue(forKey: id) }
        subscriber?.continuation.finish()
    }

    func publish(_ notifications: [NotificationView]) {
        guard !notifications.isEmpty else { return }
        let current = lock.withLock { subscribers }
        guard !current.isEmpty else { return }
        let frames = notifications.compactMap { view in
            (try? encoder.encode(view)).map { (customer: view.customerId, frame: ServerSentEvents.event("notification", data: $0)) }
        }
        for (id, subscriber) in current {
            for (customer, frame) in frames where subscriber.customer == nil || subscriber.customer == customer {
                if case .dropped = subscriber.continuation.yield(frame) {
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
