import Foundation
import NIOCore
import ServiceKit

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
    let streams = EventFanOut(maxStreams: 64, slow: .dropOldest(buffer: 256))
    private let lock = NSLock()
    private var recentEvents: [LiveEvent] = []

    func publish(_ event: LiveEvent) {
        lock.withLock {
            recentEvents.append(event)
            if recentEvents.count > Self.recentCount { recentEvents.removeFirst() }
        }
        streams.publish([(audience: nil, frame: event.frame)])
    }

    var recent: [LiveEvent] { lock.withLock { recentEvents.reversed() } }
}
