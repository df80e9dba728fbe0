import Hummingbird
import SagaAPI
import ServiceKit

/// GET /notifications/stream: server-sent events, one `event: notification` per notification
/// SENT after the client connected (only `customer`'s, when given), and a heartbeat comment
/// every 15 s. Beyond the broadcaster's cap of open streams: 503 with Retry-After.
enum NotificationStream {
    static let heartbeatInterval = Duration.seconds(15)

    static func response(_ broadcaster: NotificationBroadcaster, customer: String?) throws -> Response {
        guard let subscription = broadcaster.streams.subscribe(audience: customer) else {
            throw Problem.unavailable("too many open notification streams; retry later", retryAfterSeconds: 5)
        }
        return ServerSentEvents.response(subscription, of: broadcaster.streams, every: heartbeatInterval)
    }
}
