/// Every event of the platform, named as in the `event-type` header.
///
/// The raw value is the header text and the protobuf message name, so tools
/// (kcat, the dead-letter viewer) can show it without this library.
public enum EventType: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    // orders.v1
    case orderPlaced = "OrderPlaced"
    case orderConfirmed = "OrderConfirmed"
    case orderCancelled = "OrderCancelled"
    // inventory.v1
    case stockReserved = "StockReserved"
    case stockRejected = "StockRejected"
    case stockReleased = "StockReleased"
    // payments.v1
    case paymentCharged = "PaymentCharged"
    case paymentFailed = "PaymentFailed"
    case paymentRefunded = "PaymentRefunded"
    // notifications.v1
    case notificationSent = "NotificationSent"
    // deadletter.v1
    case deadLetter = "DeadLetter"

    public var description: String { rawValue }

    /// The one topic this event is written to.
    public var topic: TopicSpec {
        switch self {
        case .orderPlaced, .orderConfirmed, .orderCancelled: TopicCatalog.orders
        case .stockReserved, .stockRejected, .stockReleased: TopicCatalog.inventory
        case .paymentCharged, .paymentFailed, .paymentRefunded: TopicCatalog.payments
        case .notificationSent: TopicCatalog.notifications
        case .deadLetter: TopicCatalog.deadLetters
        }
    }

    /// The `schema-version` this code writes. Additive changes keep it; only a
    /// breaking change bumps it, and that goes to a new topic (see EVOLUTION.md).
    public var schemaVersion: Int { 1 }

    /// The `schema-version` values this code can read.
    public var supportedSchemaVersions: ClosedRange<Int> { 1...1 }

    private static let utf8Names: [(name: [UInt8], type: EventType)] = allCases.map { (Array($0.rawValue.utf8), $0) }

    /// From the `event-type` header's bytes without building a String (hot path).
    public init?(utf8 bytes: [UInt8]) {
        guard let match = Self.utf8Names.first(where: { $0.name == bytes }) else { return nil }
        self = match.type
    }

    /// Event types that may appear on `topic` (empty for a topic not in the catalog).
    public static func types(onTopic topic: String) -> [EventType] {
        allCases.filter { $0.topic.name == topic }
    }
}

extension TopicSpec {
    /// The event types written to this topic.
    public var eventTypes: [EventType] { EventType.types(onTopic: name) }
}
