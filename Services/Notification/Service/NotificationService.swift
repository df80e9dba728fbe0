import EventSchema
import Hummingbird
import Messaging
import Metrics
import NotificationCore
import Persistence
import ServiceKit
import ServiceLifecycle

/// The Notification service: records one notification per terminal order and kind (consumer),
/// delivers it through the configured channel and emits NotificationSent (delivery worker),
/// and shows them (GET /notifications, live stream).
struct NotificationService: SagaService {
    static let name = ServiceName.notification
    static let migrations = NotificationSchema.migrations
    static let consumedTopics = TopicCatalog.topics(readBy: name.rawValue)
    /// Declared empty: the consumer emits NotificationSent only with a channel that delivers in
    /// its transaction (the runtime learns the topic at the first emit); otherwise the delivery
    /// worker emits it.
    static let emittedTopics: [String] = []
    /// OrderPlaced (two thirds of orders.v1) is skipped undecoded.
    static let handledEventTypes: Set<EventType>? = NotificationDecider.handledEvents

    let context: ServiceContext
    let channel: any NotificationChannel
    let broadcaster: NotificationBroadcaster
    let delivered: DeliveredNotifications
    let worker: DeliveryWorker
    let api: NotificationAPI
    /// Rung after each consumer commit that may have recorded notifications for the worker: they
    /// are delivered at once.
    let deliveryDue = WakeSignal()
    /// The fallback round, for retries whose backoff ran out and rows another instance recorded.
    let deliveryInterval: Duration

    init(context: ServiceContext, channel settings: ChannelSettings, deliveryInterval: Duration = .seconds(1),
         maxStreamSubscribers: Int = SettingsCatalog.streamSubscribers.defaultInteger) throws {
        self.context = context
        broadcaster = NotificationBroadcaster(maxSubscribers: maxStreamSubscribers)
        let logger = context.makeLogger("delivery")
        channel = try settings.makeChannel(logger: logger)
        delivered = DeliveredNotifications(channel: channel.kind, broadcaster: broadcaster)
        worker = DeliveryWorker(database: context.database, relay: context.relay, channel: channel,
                                delivered: delivered, logger: logger)
        api = NotificationAPI(database: context.database, broadcaster: broadcaster)
        self.deliveryInterval = deliveryInterval
        context.logger.notice("notification channel", metadata: ["channel": "\(settings)"])
    }

    func prepareBatch(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        try NotificationEventHandler.prepare(events, unit)
    }

    func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        try NotificationEventHandler.handle(event, unit, channel: channel, delivered: delivered)
    }

    func addRoutes(to routes: EdgeRoutes) {
        api.add(to: routes)
    }

    func backgroundServices() -> [any Service] {
        [PeriodicService(name: "delivery worker", interval: deliveryInterval, wake: deliveryDue, logger: worker.logger) { [worker] in
            while try await worker.deliverDue() == worker.batchSize, !Task.isCancelled, !Task.isShuttingDownGracefully {}
        }]
    }

    func consumedBatchCommitted() {
        // The consumer delivered in its transaction: nothing new for the worker.
        if !(channel is any InTransactionChannel) { deliveryDue.signal() }
    }

    /// `notifications_pending`: recorded, not yet delivered (counted in the database at scrape
    /// time); `notifications_stream_subscribers`: open live streams.
    func refreshMetrics() async {
        Gauge(label: "notifications_stream_subscribers").record(broadcaster.subscriberCount)
        guard let pending = try? await context.database.read({ try NotificationStore.pendingCount(on: $0) }) else { return }
        Gauge(label: "notifications_pending").record(pending)
    }
}
