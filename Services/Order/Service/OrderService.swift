import EventSchema
import Hummingbird
import Messaging
import Metrics
import OrderCore
import Persistence
import ServiceKit
import ServiceLifecycle

/// The Order service: the HTTP edge of the saga (place and read orders), the consumer that
/// ends orders on Inventory's and Payment's answers, and the deadline sweeper.
struct OrderService: SagaService {
    static let name = ServiceName.order
    static let migrations = OrderSchema.migrations
    static let emittedTopics = [TopicCatalog.orders.name]
    static let consumedTopics = TopicCatalog.topics(readBy: name.rawValue)

    let context: ServiceContext
    let api: OrderAPI
    let sweeper: DeadlineSweeper
    let sweepInterval: Duration
    let idempotencyKeyRetention: Duration

    init(context: ServiceContext, policy: OrderPolicy, sweepInterval: Duration, idempotencyKeyRetention: Duration = SettingsCatalog.idempotencyKeyRetention.defaultDuration,
         ordersPerSecondPerCaller: Double = 20) throws {
        let seed = try context.settings.loadSeed()
        let prices = PriceList(currency: seed.currency,
                               unitPrices: Dictionary(uniqueKeysWithValues: seed.skus.map { ($0.sku, $0.unitPrice) }))
        self.context = context
        api = OrderAPI(database: context.database, placements: GroupCommit(database: context.database, relay: context.relay, name: "placements"),
                       prices: prices, policy: policy,
                       rateLimiter: RateLimiter(perSecond: ordersPerSecondPerCaller, burst: max(1, Int(2 * ordersPerSecondPerCaller))))
        sweeper = DeadlineSweeper(database: context.database, relay: context.relay, logger: context.makeLogger("sweeper"))
        self.sweepInterval = sweepInterval
        self.idempotencyKeyRetention = idempotencyKeyRetention
    }

    func prepareBatch(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        try OrderEventHandler.prepare(events, unit)
    }

    func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        try OrderEventHandler.handle(event, unit)
    }

    func addRoutes(to routes: EdgeRoutes) {
        api.add(to: routes)
    }

    func backgroundServices() -> [any Service] {
        let (database, retention, logger) = (context.database, idempotencyKeyRetention, context.makeLogger("retention"))
        return [
            PeriodicService(name: "deadline sweeper", interval: sweepInterval, logger: context.makeLogger("sweeper")) { [sweeper] in
                while try await sweeper.sweep() == sweeper.batchSize {}
            },
            PeriodicService(name: "idempotency key pruning", interval: context.settings.pruneInterval, logger: logger) {
                let pruned = try await IdempotencyKeyStore.prune(olderThan: retention, in: database)
                if pruned > 0 { logger.info("pruned \(pruned) idempotency keys older than \(retention)") }
            },
        ]
    }

    /// `saga_orders{status, reason}`: orders by state and cancel reason, counted in the
    /// database at scrape time, so the figure is exact whatever was retried or replayed.
    func refreshMetrics() async {
        guard let counts = try? await context.database.read({ try OrderStore.counts(on: $0) }) else { return }
        for count in counts {
            Gauge(label: "saga_orders", dimensions: [
                ("status", count.status ?? "?"), ("reason", count.cancelReason ?? "none"),
            ]).record(count.count)
        }
    }
}
