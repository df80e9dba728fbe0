import Foundation
import NIOCore
import SagaAPI
import ServiceKit

/// Fans SENT notifications out to the live streams (GET /notifications/stream). The delivery
/// worker publishes after its commit, so a client only ever sees notifications that are SENT.
///
/// A client that falls a buffer behind is disconnected rather than silently skipped: it can
/// reconnect and catch up with GET /notifications. A stream may be limited to one customer's
/// notifications, and there are at most `maxSubscribers` at once.
final class NotificationBroadcaster: @unchecked Sendable {  // the encoder is configured once, then only used
    let streams: EventFanOut
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(bufferLimit: Int = 1024, maxSubscribers: Int = 256) {
        streams = EventFanOut(maxStreams: maxSubscribers, slow: .disconnect(buffer: bufferLimit))
    }

    var subscriberCount: Int { streams.streamCount }

    func publish(_ notifications: [NotificationView]) {
        streams.publish(notifications.compactMap { view in
            (try? encoder.encode(view)).map { (audience: view.customerId, frame: ServerSentEvents.event("notification", data: $0)) }
        })
    }
}
