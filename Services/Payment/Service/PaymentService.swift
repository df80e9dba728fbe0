import EventSchema
import PaymentCore
import Hummingbird
import Messaging
import ServiceKit

/// The Payment service: customer accounts, one payment per order.
struct PaymentService: SagaService {
    static let name = ServiceName.payment
    static let migrations = PaymentSchema.migrations
    static let handledEventTypes: Set<EventType>? = PaymentDecider.handledEvents
    static let emittedTopics = [TopicCatalog.payments.name]
    static let consumedTopics = TopicCatalog.topics(readBy: name.rawValue)

    let api: PaymentAPI

    static func make(context: ServiceContext) async throws -> PaymentService {
        let seed = try context.settings.loadSeed()
        let inserted = try await context.database.write { try PaymentStore.seed(seed.customers, currency: seed.currency, on: $0) }
        context.logger.notice("accounts seeded", metadata: ["customers": "\(seed.customers.count)", "new": "\(inserted)"])
        return PaymentService(api: PaymentAPI(database: context.database))
    }

    func prepareBatch(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        try PaymentEventHandler.prepare(events, unit)
    }

    func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        try PaymentEventHandler.handle(event, unit)
    }

    func addRoutes(to routes: EdgeRoutes) {
        api.add(to: routes)
    }
}
