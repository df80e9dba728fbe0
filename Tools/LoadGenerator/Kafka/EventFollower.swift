import Credentials
import EventSchema
import Kafka
import Logging

/// Reads orders.v1 and notifications.v1 from their current end and hands every order end and
/// notification to the tracker, stamped with the run's clock.
///
/// Read-only and outside any consumer group (partitions assigned explicitly): the services'
/// groups and their committed offsets are never touched. The start offsets are the high
/// watermarks taken before the first order is sent, so no event of the run can be missed,
/// however late the assignment completes.
final class EventFollower: Sendable {
    static let topics = [TopicCatalog.orders.name, TopicCatalog.notifications.name]

    private let consumer: KafkaConsumer
    private let task: Task<Void, Never>
    /// Partitions of orders.v1 (every saga topic has as many: an order keeps its number).
    let partitionCount: Int32

    private init(consumer: KafkaConsumer, task: Task<Void, Never>, partitionCount: Int32) {
        self.consumer = consumer
        self.task = task
        self.partitionCount = partitionCount
    }

    static func start(configuration: KafkaConfiguration, tracker: OrderTracker, clock: any LoadClock,
                      authenticator: EventAuthenticator?, logger: Logger) async throws -> EventFollower {
        let watermarks = try await TopicExtent.watermarks(of: topics, configuration: configuration, logger: logger)
        let consumer = try KafkaConsumer(configuration: configuration,
                                         partitions: watermarks.mapValues(\.high), logger: logger)
        let task = Task {
            do {
                for try await batch in consumer.batches() {
                    for message in batch {
                        if let event = FollowedEvent(message, authenticator: authenticator) { await tracker.observe(event, at: clock.now()) }
                    }
                }
            } catch {
                logger.error("stopped following the saga topics: \(error); the drain falls back to the HTTP API")
            }
        }
        let partitions = Int32(watermarks.keys.filter { $0.topic == TopicCatalog.orders.name }.count)
        return EventFollower(consumer: consumer, task: task, partitionCount: partitions)
    }

    func stop() async {
        task.cancel()
        await task.value
        await consumer.close()
    }
}
