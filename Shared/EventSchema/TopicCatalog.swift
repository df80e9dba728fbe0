/// The one place that names the platform's topics, how they are laid out and which service
/// writes and reads each.
///
/// The dev cluster, the compose topic-init job (`kafka-tool create-topics`) and every
/// service read this catalog, so a topic can never exist with two different shapes. The
/// services subscribe to the topics it says they read, and the brokers' ACLs are derived from
/// it (`BusAccess`), so what a service may do on the bus is what it does.
/// All topics share one partition count: with the same key (the order ID) and the same
/// partitioner, every event of an order lands in the same partition number everywhere.
public struct TopicSpec: Sendable, Hashable, Codable {
    public let name: String
    /// The only service allowed to write the topic (`nil`: any service, e.g. dead letters).
    public let writer: String?
    /// The services that consume it (their consumer groups are named after them).
    public let readers: [String]
    public let purpose: String
}

public enum TopicCatalog {
    public static let orders = TopicSpec(name: "orders.v1", writer: "order", readers: ["inventory", "payment", "notification"],
        purpose: "OrderPlaced, OrderConfirmed, OrderCancelled")
    public static let inventory = TopicSpec(name: "inventory.v1", writer: "inventory", readers: ["order", "payment"],
        purpose: "StockReserved, StockRejected, StockReleased")
    public static let payments = TopicSpec(name: "payments.v1", writer: "payment", readers: ["order", "inventory"],
        purpose: "PaymentCharged, PaymentFailed, PaymentRefunded")
    public static let notifications = TopicSpec(name: "notifications.v1", writer: "notification", readers: [],
        purpose: "NotificationSent")
    // Written by every consumer (through its outbox); read by operators only (kafka-tool).
    public static let deadLetters = TopicSpec(name: "deadletter.v1", writer: nil, readers: [],
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

    /// The names of the topics `service` consumes, in catalog order.
    public static func topics(readBy service: String) -> [String] {
        all.filter { $0.readers.contains(service) }.map(\.name)
    }
}
