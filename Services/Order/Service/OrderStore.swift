import EventSchema
import Foundation
import Messaging
import OrderCore
import Persistence
import ServiceKit
import SagaAPI

/// Reads and writes `orders` rows and the order history, inside a caller's transaction.
enum OrderStore {
    static func load(_ orderId: String, on connection: any SQLConnection) throws -> OrderRecord? {
        try connection.fetchOne(OrderRecord.self, "SELECT * FROM orders WHERE order_id = ?", [.text(orderId)])
    }

    private static let orderRows = InListStatement("SELECT * FROM orders WHERE order_id IN")

    /// The orders of `orderIds` that exist, by order id, in one statement.
    static func orders(_ orderIds: [String], on connection: any SQLConnection) throws -> [String: OrderRecord] {
        try orderRows.fetch(OrderRecord.self, orderIds, key: \.orderId, on: connection)
    }

    private static let orderInsert = MultiRowStatement("""
        INSERT INTO orders (order_id, customer_id, lines, total_minor, currency, placed_at_ms, deadline_ms, status, detail,
                            correlation_id, traceparent)
        """, columns: 11, maxRows: 64)

    /// Queues a new order's row for the end of `unit`'s transaction, where the orders placed
    /// together (a group commit) are one multi-row INSERT. Nothing in the transaction reads it
    /// back, and its id is new: a duplicate would fail the transaction there.
    /// `saga`: the envelope of the order's first event, whose correlation id and trace context
    /// later events of the order outside any consumed event (the sweeper's) continue.
    static func insert(_ order: OrderRecord, saga: EventEnvelope?, on unit: UnitOfWork) {
        unit.insertAtEnd([.text(order.orderId), .text(order.customerId), LinesColumn.encode(order.lines),
                          .integer(order.total.minorUnits), .text(order.total.currency),
                          .integer(order.placedAtUnixMs), .integer(order.deadlineUnixMs), .text(order.status.rawValue), .text(""),
                          .optionalText(saga?.correlationId.uuidString.lowercased()), .optionalText(saga?.traceparent)],
                         with: orderInsert)
    }

    /// The conditional update of a transition: false if the stored status is no longer
    /// `from` (another writer, e.g. the sweeper, ended the order first).
    static func update(_ order: OrderRecord, from: OrderStatus, on connection: any SQLConnection) throws -> Bool {
        try connection.execute("""
            UPDATE orders SET status = ?, cancel_reason = ?, payment_failure = ?, payment_id = ?, detail = ?, closed_at_ms = ?
            WHERE order_id = ? AND status = ?
            """, [.text(order.status.rawValue), .optionalText(order.cancelReason?.rawValue),
                  .optionalInteger(order.paymentFailureReason.map { Int64($0.rawValue) }),
                  .optionalText(order.paymentId), .text(order.detail), .optionalInteger(order.closedAtUnixMs),
                  .text(order.orderId), .text(from.rawValue)]) == 1
    }

    private static let historyInsert = MultiRowStatement(
        "INSERT INTO order_events (order_id, event_id, topic, event_type, sequence, at_ms)", columns: 6,
        suffix: "ON CONFLICT (order_id, event_id) DO NOTHING", maxRows: 128)

    /// Remembers that `orderId` saw (or emitted) an event; the same event twice is one entry.
    /// Written at the end of `unit`'s transaction with the history of every order it touched:
    /// nothing in the transaction reads the history.
    static func recordHistory(orderId: String, envelope: EventEnvelope, topic: String, on unit: UnitOfWork) {
        unit.insertAtEnd([.text(orderId), .text(envelope.eventId.uuidString.lowercased()), .text(topic),
                          .text(envelope.eventType.rawValue), .integer(envelope.sequence), .integer(EventEnvelope.nowUnixMs())],
                         with: historyInsert)
    }

    /// A page of orders after `after` in id order; only `customer`'s when given.
    static func page(after: String, limit: Int, customer: String?, on connection: any SQLConnection) throws -> [OrderRecord] {
        if let customer {
            return try connection.fetch(OrderRecord.self,
                                        "SELECT * FROM orders WHERE customer_id = ? AND order_id > ? ORDER BY order_id LIMIT ?",
                                        [.text(customer), .text(after), .integer(Int64(limit))])
        }
        return try connection.fetch(OrderRecord.self, "SELECT * FROM orders WHERE order_id > ? ORDER BY order_id LIMIT ?",
                                    [.text(after), .integer(Int64(limit))])
    }

    static func history(_ orderId: String, on connection: any SQLConnection) throws -> [OrderView.HistoryEntry] {
        try connection.fetch(OrderView.HistoryEntry.self, "SELECT * FROM order_events WHERE order_id = ? ORDER BY at_ms, topic, sequence",
                             [.text(orderId)])
    }

    /// An order whose saga deadline passed, with the saga its cancellation continues (no
    /// causing event: its correlation id and trace context, kept with the order).
    struct Due: RowDecodable {
        let orderId: String?
        let saga: EventCause

        init(row: SQLRow) {
            orderId = row.string("order_id")
            saga = EventCause(eventId: nil, correlationId: row.string("correlation_id").flatMap(UUID.init(uuidString:)),
                              traceparent: row.string("traceparent"))
        }
    }

    /// Up to `limit` PENDING orders whose deadline is at or before `now`, earliest first.
    static func due(now: Int64, limit: Int, on connection: any SQLConnection) throws -> [Due] {
        try connection.fetch(Due.self,
            "SELECT order_id, correlation_id, traceparent FROM orders WHERE status = ? AND deadline_ms <= ? ORDER BY deadline_ms LIMIT ?",
            [.text(OrderStatus.pending.rawValue), .integer(now), .integer(Int64(limit))])
    }

    /// How many orders are in each (status, cancel reason).
    struct Count: RowDecodable {
        let status: String?
        let cancelReason: String?
        let count: Int64

        init(row: SQLRow) {
            status = row.string("status")
            cancelReason = row.string("cancel_reason")
            count = row.int("n") ?? 0
        }
    }

    static func counts(on connection: any SQLConnection) throws -> [Count] {
        try connection.fetch(Count.self, "SELECT status, cancel_reason, COUNT(*) AS n FROM orders GROUP BY status, cancel_reason")
    }
}

extension OrderRecord: RowDecodable {
    public init(row: SQLRow) throws {
        guard let orderId = row.string("order_id"), let statusText = row.string("status"),
              let status = OrderStatus(rawValue: statusText) else {
            throw SQLError.permanent("corrupt orders row: \(row)")
        }
        self.init(
            orderId: orderId, customerId: row.string("customer_id") ?? "", lines: try LinesColumn.decode(row.string("lines")),
            total: Saga_V1_Money(minorUnits: row.int("total_minor") ?? 0, currency: row.string("currency") ?? ""),
            placedAtUnixMs: row.int("placed_at_ms") ?? 0, deadlineUnixMs: row.int("deadline_ms") ?? 0, status: status,
            cancelReason: row.string("cancel_reason").flatMap(OrderCancelReason.init(rawValue:)),
            paymentFailureReason: row.int("payment_failure").flatMap { Saga_V1_PaymentFailureReason(rawValue: Int($0)) },
            paymentId: row.string("payment_id"), detail: row.string("detail") ?? "", closedAtUnixMs: row.int("closed_at_ms"))
    }
}

extension OrderView.HistoryEntry: RowDecodable {
    public init(row: SQLRow) {
        self.init(topic: row.string("topic") ?? "", eventType: row.string("event_type") ?? "",
                  eventId: row.string("event_id") ?? "", sequence: row.int("sequence") ?? 0, at: row.int("at_ms") ?? 0)
    }
}
