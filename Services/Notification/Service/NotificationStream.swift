import Hummingbird
import ServiceKit
import ServiceLifecycle
import SagaAPI

/// GET /notifications/stream: server-sent events, one `event: notification` per notification
/// SENT after the client connected (only `customer`'s, when given), and a heartbeat comment
/// every 15 s. Beyond the broadcaster's cap of open streams: 503 with Retry-After.
enum NotificationStream {
    static let heartbeatInterval = Duration.seconds(15)

    static func response(_ broadcaster: NotificationBroadcaster, customer: String?) throws -> Response {
        guard let subscription = broadcaster.subscribe(customer: customer) else {
            throw Problem.unavailable("too many open notification streams; retry later", retryAfterSeconds: 5)
        }
        var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        headers[HTTPFields.Element.Name("X-Accel-Buffering")!] = "no"  // reverse proxies: pass events through at once
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let heartbeat = Task { [continuation = subscription.continuation] in
                while (try? await Task.sleep(for: heartbeatInterval)) != nil {
                    continuation.yield(ServerSentEvents.heartbeat)
                }
            }
            // A client that went away makes a write throw (at the latest at the next heartbeat):
            // either way the subscriber is removed here.
            defer {
                heartbeat.cancel()
                broadcaster.unsubscribe(subscription.id)
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
                broadcaster.unsubscribe(subscription.id)
            }
        })
    }
}
