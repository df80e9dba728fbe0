import EventSchema
import Foundation
import Messaging
import NotificationCore
import Persistence

/// Reads and writes `notifications` rows, inside a caller's transaction.
enum NotificationStore {
    static func load(orderId: String, kind: NotificationKind, on connection: any SQLConnection) throws -> StoredNotification? {
        try connection.fetchOne(StoredNotification.self, "SELECT * FROM notifications WHERE order_id = ? AND kind = ?",
                                [.text(orderId), .text(kind.rawValue)])
    }

    private static let orderRows = InListStatement("SELECT * FROM notifications WHERE order_id IN")

    /// The notifications of `orderIds`, by `key(orderId:kind:)`, in one statement.
    static func notifications(of orderIds: [String], on connection: any SQLConnection) throws -> [String: NotificationRecord] {
        try orderRows.fetch(StoredNotification.self, orderIds, key: { key(orderId: $0.record.orderId, kind: $0.record.kind) },
                            on: connection).mapValues(\.record)
    }

    /// An (order, kind) pair, the identity of a notification, as one key.
    static func key(orderId: String, kind: NotificationKind) -> String { "\(orderId) \(kind.rawValue)" }

    static func forOrder(_ orderId: String, on connection: any SQLConnection) throws -> [StoredNotification] {
        try connection.fetch(StoredNotification.self,
                             "SELECT * FROM notifications WHERE order_id = ? ORDER BY created_at_ms, notification_id", [.text(orderId)])
    }

    /// A page after `after` in id order; only `customer`'s when given.
    static func page(after: String?, limit: Int, customer: String? = nil, on connection: any SQLConnection) throws -> [StoredNotification] {
        if let customer {
            return try connection.fetch(StoredNotification.self, """
                SELECT * FROM notifications WHERE customer_id = ? AND notification_id > ? ORDER BY notification_id LIMIT ?
                """, [.text(customer), .text(after ?? ""), .integer(Int64(limit))])
        }
        return try connection.fetch(StoredNotification.self,
                                    "SELECT * FROM notifications WHERE notification_id > ? ORDER BY notification_id LIMIT ?",
                                    [.text(after ?? ""), .integer(Int64(limit))])
    }

    private static let newNotifications = MultiRowStatement("""
        INSERT INTO notifications (notification_id, order_id, kind, customer_id, channel, message,
                                   created_at_ms, state, attempts, next_attempt_at_ms, sent_at_ms,
                                   cause_event_id, correlation_id, traceparent)
        """, columns: 14, suffix: "ON CONFLICT DO NOTHING")

    /// Records a notification (`UnitOfWork.insertNew`): PENDING, to be delivered by the worker,
    /// or SENT at `now` when the consumer delivered it in this transaction. False if the
    /// (order, kind) row exists already: a concurrent consumer (another instance, PostgreSQL)
    /// recorded it first.
    static func insert(_ record: NotificationRecord, channel: ChannelKind, now: Int64, cause: EventCause, sent: Bool,
                       in unit: UnitOfWork) throws -> Bool {
        try unit.insertNew([.text(record.notificationId), .text(record.orderId), .text(record.kind.rawValue),
                  .text(record.customerId), .text(channel.rawValue), .text(record.message), .integer(now),
                  .text((sent ? DeliveryState.sent : .pending).rawValue), .integer(sent ? 1 : 0), .integer(now),
                  sent ? .integer(now) : .null,
                  .optionalText(cause.eventId?.uuidString.lowercased()), .optionalText(cause.correlationId?.uuidString.lowercased()),
                  .optionalText(cause.traceparent)], with: newNotifications, into: "notifications")
    }

    /// PENDING rows due for an attempt, oldest first.
    static func due(now: Int64, limit: Int, on connection: any SQLConnection) throws -> [StoredNotification] {
        try connection.fetch(StoredNotification.self, """
            SELECT * FROM notifications WHERE state = ? AND next_attempt_at_ms <= ?
            ORDER BY created_at_ms, notification_id LIMIT ?
            """, [.text(DeliveryState.pending.rawValue), .integer(now), .integer(Int64(limit))])
    }

    /// Claims a due row until `until` (compare-and-set on `next_attempt_at_ms`), so that two
    /// workers (several instances) do not deliver the same row at once. False if another took it.
    static func claim(_ row: StoredNotification, until: Int64, on connection: any SQLConnection) throws -> Bool {
        try connection.execute("""
            UPDATE notifications SET next_attempt_at_ms = ?
            WHERE notification_id = ? AND state = ? AND next_attempt_at_ms = ?
            """, [.integer(until), .text(row.record.notificationId), .text(DeliveryState.pending.rawValue),
                  .integer(row.nextAttemptAtUnixMs)]) == 1
    }

    /// PENDING → SENT; false if the row is not PENDING any more (another worker recorded it).
    static func markSent(_ notificationId: String, channel: ChannelKind, at sentAt: Int64,
                         on connection: any SQLConnection) throws -> Bool {
        try connection.execute("""
            UPDATE notifications SET state = ?, sent_at_ms = ?, channel = ?, attempts = attempts + 1, last_error = NULL
            WHERE notification_id = ? AND state = ?
            """, [.text(DeliveryState.sent.rawValue), .integer(sentAt), .text(channel.rawValue),
                  .text(notificationId), .text(DeliveryState.pending.rawValue)]) == 1
    }

    /// A failed attempt: the row stays PENDING and becomes due again at `retryAt`.
    static func markFailed(_ notificationId: String, error: String, retryAt: Int64, on connection: any SQLConnection) throws {
        try connection.executePipelined("""
            UPDATE notifications SET attempts = attempts + 1, last_error = ?, next_attempt_at_ms = ?
            WHERE notification_id = ? AND state = ?
            """, [.text(String(error.prefix(500))), .integer(retryAt), .text(notificationId),
                  .text(DeliveryState.pending.rawValue)])
    }

    static func pendingCount(on connection: any SQLConnection) throws -> Int64 {
        try connection.query("SELECT COUNT(*) AS n FROM notifications WHERE state = ?",
                             [.text(DeliveryState.pending.rawValue)]).first?.int("n") ?? 0
    }
}

extension StoredNotification: RowDecodable {
    init(row: SQLRow) throws {
        guard let notificationId = row.string("notification_id"), let orderId = row.string("order_id"),
              let kind = row.string("kind").flatMap(NotificationKind.init(rawValue:)),
              let state = row.string("state").flatMap(DeliveryState.init(rawValue:)),
              let channel = row.string("channel").flatMap(ChannelKind.init(rawValue:)) else {
            throw SQLError.permanent("corrupt notifications row: \(row)")
        }
        let sentAt = row.int("sent_at_ms")
        let record = NotificationRecord(
            orderId: orderId, kind: kind, customerId: row.string("customer_id") ?? "", notificationId: notificationId,
            channel: channel.proto, message: row.string("message") ?? "", sentAtUnixMs: sentAt ?? 0)
        self.init(
            record: record, channel: channel, state: state, createdAtUnixMs: row.int("created_at_ms") ?? 0,
            sentAtUnixMs: sentAt, attempts: row.int("attempts") ?? 0, lastError: row.string("last_error"),
            nextAttemptAtUnixMs: row.int("next_attempt_at_ms") ?? 0, cause: Self.decodeCause(row))
    }

    private static func decodeCause(_ row: SQLRow) -> EventCause? {
        guard let eventId = row.string("cause_event_id").flatMap(UUID.init(uuidString:)),
              let correlationId = row.string("correlation_id").flatMap(UUID.init(uuidString:)) else { return nil }
        return EventCause(eventId: eventId, correlationId: correlationId, traceparent: row.string("traceparent"))
    }
}
