import Foundation
import Hummingbird
import NIOCore
import SagaAPI
import ServiceKit

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
            guard let subscription = index.live.streams.subscribe() else {
                throw Problem.unavailable("too many open live streams; retry later", retryAfterSeconds: 5)
            }
            // The rates, every few seconds: also the heartbeat that finds a client gone.
            return ServerSentEvents.response(subscription, of: index.live.streams, every: Self.ratesInterval) {
                let rates = index.rates()
                return ByteBuffer(string: "event: rates\ndata: {\"confirmed\":\(rates.confirmed),\"cancelled\":\(rates.cancelled)}\n\n")
            }
        }
    }
}
