import EventSchema
import InventoryCore
import Hummingbird
import Messaging
import ServiceKit

/// The Inventory service: stock per SKU, one reservation per order.
struct InventoryService: SagaService {
    static let name = ServiceName.inventory
    static let migrations = InventorySchema.migrations
    static let handledEventTypes: Set<EventType>? = InventoryDecider.handledEvents
    static let emittedTopics = [TopicCatalog.inventory.name]
    static let consumedTopics = TopicCatalog.topics(readBy: name.rawValue)

    let api: InventoryAPI

    static func make(context: ServiceContext) async throws -> InventoryService {
        let seed = try context.settings.loadSeed()
        let inserted = try await context.database.write { try InventoryStore.seed(seed.skus, on: $0) }
        context.logger.notice("stock seeded", metadata: ["skus": "\(seed.skus.count)", "new": "\(inserted)"])
        return InventoryService(api: InventoryAPI(database: context.database))
    }

    func prepareBatch(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        try InventoryEventHandler.prepare(events, unit)
    }

    func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        try InventoryEventHandler.handle(event, unit)
    }

    func addRoutes(to routes: EdgeRoutes) {
        api.add(to: routes)
    }
}
