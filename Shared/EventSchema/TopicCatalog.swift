/// The one place that names the platform's topics and how they are laid out.
///
/// The dev cluster, the compose topic-init job (`kafka-tool create-topics`) and every
/// service read this catalog, so a topic can never exist with two different shapes.
/// All topics share one partition count: with the same key (the order ID) and the same
/// partitioner, every event of an order lands in the same partition number everywhere.
public struct TopicSpec: Sendable, Hashable, Codable {
    public let name: String
    /// The only service allowed to write the topic (`nil`: any service, e.g. dead letters).
    public let writer: String?
    public let purpose: String
}

public enum TopicCatalog {
    public static let orders = TopicSpec(name: "orders.v1", writer: "order",
        purpose: "OrderPlaced, OrderConfirmed, OrderCancelled")
    public static let inventory = TopicSpec(name: "inventory.v1", writer: "inventory",
        purpose: "StockReserved, StockRejected, StockReleased")
    public static let payments = TopicSpec(name: "payments.v1", writer: "payment",
        purpose: "PaymentCharged, PaymentFailed, PaymentRefunded")
    public static let notifications = TopicSpec(name: "notifications.v1", writer: "notification",
        purpose: "NotificationSent")
    public static let deadLetters = TopicSpec(name: "deadletter.v1", writer: nil,
        purpose: "messages a consumer could not process, with their origin and the error")

    public static let all: [TopicSpec] = [orders, inventory, payments, notifications, deadLetters]

    /// Defaults for a real cluster (compose: three brokers, one may be down without
    /// stopping writes). The dev cluster uses the same numbers.
    public static let defaultPartitions = 12
    public static let replicationFactor = 3
    public static let minInSyncReplicas = 2

    public static func spec(named name: String) -> TopicSpec? {
        all.first { $0.name == name }
    }
}
