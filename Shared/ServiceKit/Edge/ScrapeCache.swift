import Foundation
import NIOCore
import Prometheus

/// `/metrics` computed at most once per `maxAge`: the gauges read from the database cost
/// queries, and scrapers (or a caller with a stolen monitor token) can ask as often as they
/// like. Callers within the window get the same text; concurrent ones wait for one render.
actor ScrapeCache {
    private let registry: PrometheusCollectorRegistry
    private let maxAge: Duration
    private let refresh: @Sendable () async -> Void
    private var rendered: (at: ContinuousClock.Instant, text: ByteBuffer)?
    private var inFlight: Task<ByteBuffer, Never>?

    init(registry: PrometheusCollectorRegistry, maxAge: Duration = .seconds(1), refresh: @escaping @Sendable () async -> Void) {
        self.registry = registry
        self.maxAge = maxAge
        self.refresh = refresh
    }

    func render() async -> ByteBuffer {
        if let rendered, ContinuousClock.now - rendered.at < maxAge { return rendered.text }
        if let inFlight { return await inFlight.value }
        let task = Task { [registry, refresh] in
            await refresh()
            return ByteBuffer(bytes: registry.emitToBuffer())
        }
        inFlight = task
        let text = await task.value
        rendered = (.now, text)
        inFlight = nil
        return text
    }
}
