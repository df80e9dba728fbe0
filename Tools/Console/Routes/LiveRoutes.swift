import Foundation
import Hummingbird
import NIOCore
import SagaAPI
import ServiceKit
import ServiceLifecycle

/// `GET /live`: terminal orders and notifications as they happen and the current rates of
/// confirmed and cancelled orders; the page renders the recent ones on the server, and
/// `/assets/live.js` adds what `GET /live/events` (server-sent events) brings.
struct LiveRoutes {
    let dependencies: ConsoleDependencies
    let layout: Layout
    static let ratesInterval = Duration.seconds(2)

    func add(to routes: EdgeRoutes) {
        routes.get("/live", .requires(.operator)) { request, _, _ in
            let rates = dependencies.index.rates()
            let items = dependencies.index.live.recent.map { event -> HTML in
                "<li class=\"event-\(event.kind)\">\(TimeText.iso(event.atMs))  \(event.kind)  \(event.orderId)  \(event.customerId)  \(event.detail)</li>"
            }
            let body: HTML = """
                <p>Confirmed <strong id="rate-confirmed">\(String(format: "%.2f", rates.confirmed))</strong>/s · \
                cancelled <strong id="rate-cancelled">\(String(format: "%.2f", rates.cancelled))</strong>/s over the last minute · \
                <span id="live-status" class="muted">static</span></p>
                <ul class="live" id="live-events">\(items)</ul>
                """
            return layout.page("Live", section: .live, session: dependencies.sessions.session(of: request), scripts: ["/assets/live.js"], body)
        }
        routes.get("/live/events", .requires(.operator)) { _, _, _ in
            let index = dependencies.index
            guard let subscription = index.live.subscribe() else {
                throw Problem.unavailable("too many open live streams; retry later", retryAfterSeconds: 5)
            }
            var headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
            headers[HTTPFields.Element.Name("X-Accel-Buffering")!] = "no"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                // The rates, every few seconds: also the heartbeat that finds a client gone.
                let ticker = Task { [continuation = subscription.continuation] in
                    while (try? await Task.sleep(for: Self.ratesInterval)) != nil {
                        let rates = index.rates()
                        continuation.yield(ByteBuffer(string: "event: rates\ndata: {\"confirmed\":\(rates.confirmed),\"cancelled\":\(rates.cancelled)}\n\n"))
                    }
                }
                defer {
                    ticker.cancel()
                    index.live.unsubscribe(subscription.id)
                }
                try await withGracefulShutdownHandler {
                    try await writer.write(ByteBuffer(string: ": subscribed\n\n"))
                    for await frame in subscription.stream {
                        try await writer.write(frame)
                    }
                    try await writer.finish(nil)
                } onGracefulShutdown: {
                    index.live.unsubscribe(subscription.id)
                }
            })
        }
    }
}
