import Foundation
import NIOCore

/// Something that just happened, for the live page: an order reached its end, or a customer was
/// notified.
struct LiveEvent: Sendable, Codable, Equatable {
    var kind: String
    var orderId: String
    var customerId: String
    var detail: String
    var atMs: Int64

    init(kind: String, orderId: String, customerId: String, detail: String, atMs: Int64) {
        self.kind = kind
        self.orderId = orderId
        self.customerId = customerId
        self.detail = detail
        self.atMs = atMs
    }

    init(kind: String, entry: OrderEntry, atMs: Int64) {
        self.init(kind: kind, orderId: entry.orderId, customerId: entry.customerId,
                  detail: entry.cancelReason.map { "cancelled: \($0)" } ?? "confirmed \(entry.totalText)", atMs: atMs)
    }

    /// One server-sent event: `event: <kind>`, the JSON on one `data:` line.
    var frame: ByteBuffer {
        let data = (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ByteBuffer(string: "event: \(kind)\ndata: \(data)\n\n")
    }
}

/// Hands live events to every open stream, and keeps the last few for a page's first render.
/// A slow stream loses its oldest events rather than holding the follower up.
final class LiveBroadcaster: @unchecked Sendable {
    static let recentCount = 50
    static let maxSubscribers = 64
    private let lock = NSLock()
    private var subscribers: [UUID: AsyncStream<ByteBuffer>.Continuation] = [:]
    private var recentEvents: [LiveEvent] = []

    struct Subscription {
        let id: UUID
        let stream: AsyncStream<ByteBuffer>
        let continuation: AsyncStream<ByteBuffer>.Continuation
    }

    func publish(_ event: LiveEvent) {
        let frame = event.frame
        let targets = lock.withLock {
            recentEvents.append(event)
            if recentEvents.count > Self.recentCount { recentEvents.removeFirst() }
            return Array(subscribers.values)
        }
        for continuation in targets { continuation.yield(frame) }
    }

    var recent: [LiveEvent] { lock.withLock { recentEvents.reversed() } }

    /// Nil when `maxSubscribers` streams are open.
    func subscribe() -> Subscription? {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let id = UUID()
        let admitted = lock.withLock { () -> Bool in
            guard subscribers.count < Self.maxSubscribers else { return false }
            subscribers[id] = continuation
            return true
        }
        return admitted ? Subscription(id: id, stream: stream, continuation: continuation) : nil
    }

    func unsubscribe(_ id: UUID) {
        let continuation = lock.withLock { subscribers.removeValue(forKey: id) }
        continuation?.finish()
    }
}
