import EventSchema
import Foundation
import Kafka
import Logging
import Messaging
import Persistence

/// The harness's business: for each OrderPlaced, record the order once and emit StockReserved.
/// Public for the crash tests, which check its table and feed it input.
public enum HarnessService {
    public static let migrations = MessagingSchema.migrations + [
        Migration(id: "harness-001-orders", both: [
            """
            CREATE TABLE harness_orders (
                order_id TEXT PRIMARY KEY,
                event_id TEXT NOT NULL,
                times INTEGER NOT NULL
            )
            """,
        ]),
    ]

    public static let inputTopic = TopicCatalog.orders.name

    /// `times` counts applications: the crash tests check it is 1 for every order.
    public static let handler: EventHandler = makeHandler(recordOrders: true)

    /// With `recordOrders: false` the handler only emits (the benchmark of the runtime alone).
    public static func makeHandler(recordOrders: Bool) -> EventHandler {
        { event, unit in try handle(event, unit, recordOrders: recordOrders) }
    }

    private static func handle(_ event: InboundEvent, _ unit: UnitOfWork, recordOrders: Bool) throws -> HandlerOutcome {
        guard case .orderPlaced(let placed) = event.event else { return .ignored }
        if recordOrders {
            // Pipelined: a service's write whose outcome the handler does not need.
            try unit.connection.executePipelined("""
                INSERT INTO harness_orders (order_id, event_id, times) VALUES (?, ?, 1)
                ON CONFLICT (order_id) DO UPDATE SET times = harness_orders.times + 1
                """, [.text(placed.orderID), .text(event.envelope.eventId.uuidString.lowercased())])
        }
        var reserved = Saga_V1_StockReserved()
        reserved.orderID = placed.orderID
        reserved.customerID = placed.customerID
        reserved.lines = placed.lines
        reserved.amount = placed.total
        reserved.deadlineUnixMs = placed.deadlineUnixMs
        reserved.reservedAtUnixMs = EventEnvelope.nowUnixMs()
        try unit.emit(.stockReserved(reserved), causedBy: event.envelope.cause)
        return .applied
    }

    /// An OrderPlaced record as the Order service would publish it (first event of its saga).
    /// Event ids are time-ordered like the ones `UnitOfWork.emit` gives (`randomEventId` for v4).
    public static func orderPlaced(orderId: String, sequence: Int64 = 1, randomEventId: Bool = false) -> OutgoingMessage {
        var placed = Saga_V1_OrderPlaced()
        placed.orderID = orderId
        placed.customerID = "customer-\(orderId.hashValue & 0xff)"
        var price = Saga_V1_Money()
        price.minorUnits = 1999
        price.currency = "EUR"
        var line = Saga_V1_OrderLine()
        line.sku = "SKU-42"
        line.quantity = 1
        line.unitPrice = price
        placed.lines = [line]
        placed.total = price
        placed.placedAtUnixMs = EventEnvelope.nowUnixMs()
        placed.deadlineUnixMs = placed.placedAtUnixMs + 60_000
        let event = SagaEvent.orderPlaced(placed)
        let envelope = EventEnvelope(for: event, sequence: sequence, eventId: randomEventId ? UUID() : .timeOrdered())
        return OutgoingMessage(topic: inputTopic, key: envelope.key, value: event.encodePayload(),
                               headers: envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) })
    }
}
