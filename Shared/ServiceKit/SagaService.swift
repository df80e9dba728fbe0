import EventSchema
import Hummingbird
import Logging
import Messaging
import Persistence
import ServiceLifecycle

/// One of the saga's services: its tables, the topics it consumes, its event handler and its
/// HTTP routes. `ServiceRunner` wires it to the shared infrastructure (database, consumer
/// runtime, outbox relay, HTTP edge, shutdown), so a service holds only its domain.
public protocol SagaService: Sendable {
    static var name: ServiceName { get }
    /// The service's own tables, applied after `MessagingSchema.migrations`.
    static var migrations: [Migration] { get }
    static var consumedTopics: [String] { get }
    /// The topics `handle` emits to: each batch takes their sequence rows for its orders first,
    /// in one order, which makes them the per-order lock of every writer of the service.
    static var emittedTopics: [String] { get }
    /// The event types `handle` acts on; the runtime skips the others by header, undecoded
    /// (nil: hand every event to `handle`).
    static var handledEventTypes: Set<EventType>? { get }

    /// Applies one consumed event inside the batch transaction (see `EventHandler`).
    func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome

    /// Before the batch's handlers run, in its transaction: lock the shared rows they will touch
    /// in one global order (see `BatchPrelude`), and read the rows their decisions will read, one
    /// statement per table for the whole batch (`UnitOfWork.preload`). Default: nothing.
    func prepareBatch(_ events: [InboundEvent], _ unit: UnitOfWork) throws

    /// Registers the service's HTTP routes, each with its access policy.
    func addRoutes(to routes: EdgeRoutes)

    /// Long-running work besides consuming (a deadline sweeper, a delivery worker); shut down
    /// before the consumer and the relay.
    func backgroundServices() -> [any Service]

    /// Called before every /metrics scrape, to set gauges read from the database.
    func refreshMetrics() async

    /// After a batch of consumed events committed: work the batch left for after its commit
    /// (Notification's deliveries) starts now rather than on its next polling round. Default: nothing.
    func consumedBatchCommitted()
}

extension SagaService {
    public static var handledEventTypes: Set<EventType>? { nil }
    public func prepareBatch(_ events: [InboundEvent], _ unit: UnitOfWork) throws {}
    public func backgroundServices() -> [any Service] { [] }
    public func refreshMetrics() async {}
    public func consumedBatchCommitted() {}
}

/// What a service gets from the runner.
public struct ServiceContext: Sendable {
    public let settings: ServiceSettings
    public let database: any SQLDatabase
    /// Wake it after committing a transaction that emitted events outside the consumer
    /// (`database.unitOfWork(waking: relay)` does).
    public let relay: OutboxRelay
    public let logger: Logger

    public func makeLogger(_ component: String) -> Logger {
        var logger = logger
        logger[metadataKey: "component"] = "\(component)"
        return logger
    }
}
