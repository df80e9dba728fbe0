import Deciding
import EventSchema
import Messaging
import NotificationCore
import Persistence
import ServiceKit

/// What Notification does with orders.v1: on OrderConfirmed / OrderCancelled it records one
/// notification per (order, kind), inside the consumer's batch transaction.
///
/// A channel with an outside effect (a webhook) is never called here: a network call
/// would hold the transaction (and, on SQLite, the only writer) for as long as the receiver
/// takes. Its notification is recorded PENDING, and the delivery worker sends it after the
/// commit and emits NotificationSent then. A channel that delivers in place
/// (`InTransactionChannel`: the log, the file) is called here, and the row is recorded SENT with its
/// NotificationSent in this transaction's outbox. (The runtime hands it only
/// `NotificationDecider.handledEvents`.)
enum NotificationEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork, channel: any NotificationChannel,
                       delivered: DeliveredNotifications) throws -> HandlerOutcome {
        // A later NotificationSent continues this event's saga, under the decision's span.
        let step = RecordNotificationStep(
            event: event.event, channel: channel, now: try unit.connection.databaseTimeMillis(),
            cause: event.envelope.cause.continuing(unit.traceparent), delivered: delivered)
        return try TransitionWriter.handle(event, with: step, unit: unit)
    }

    /// Before any handler runs: reads the notifications of the batch's orders in one statement and
    /// keeps them for the decisions. A notification recorded meanwhile by another instance makes
    /// the decision's conditional insert lose, and the decision is made again on the row.
    static func prepare(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        let notifications = try NotificationStore.notifications(of: events.map(\.envelope.orderId), on: unit.connection)
        unit.preload(notifications, for: events.compactMap { event in
            NotificationKind(for: event.event).map { NotificationStore.key(orderId: event.envelope.orderId, kind: $0) }
        })
    }
}

/// Notification's part of the write path for a consumed event: the (order, kind) row recorded,
/// and delivered now if its channel can.
struct RecordNotificationStep: TransitionStep {
    let event: SagaEvent
    let channel: any NotificationChannel
    /// The row's first due time, or its send time when delivered now: on the database's clock,
    /// like the worker's claims.
    let now: Int64
    let cause: EventCause
    let delivered: DeliveredNotifications

    var subject: String { "notification of \(event.orderId)" }

    private var deliversNow: (any InTransactionChannel)? { channel as? any InTransactionChannel }

    func load(on connection: any SQLConnection) throws -> NotificationRecord? {
        guard let kind = NotificationKind(for: event) else { return nil }
        return try NotificationStore.load(orderId: event.orderId, kind: kind, on: connection)?.record
    }

    /// The batch's reading of the (order, kind) row, taken by the first decision on it.
    func takePreloaded(from unit: UnitOfWork) -> NotificationRecord?? {
        guard let kind = NotificationKind(for: event) else { return .some(nil) }
        return unit.takePreloaded(NotificationRecord.self, for: NotificationStore.key(orderId: event.orderId, kind: kind))
    }

    func decide(_ existing: NotificationRecord?) -> Decided<NotificationRecorded> {
        NotificationDecider.decide(existing, on: event, channel: channel.kind.proto, now: now).recorded(deliveredNow: deliversNow != nil)
    }

    /// False if a concurrent consumer (another instance, PostgreSQL) recorded it first.
    func write(_ transition: NotificationRecorded, in unit: UnitOfWork) throws -> Bool {
        try NotificationStore.insert(transition.record, channel: channel.kind, now: now, cause: cause,
                                     sent: transition.deliveredNow, in: unit)
    }

    /// The row is written and its NotificationSent is in the outbox: delivered now, announced
    /// to the live streams once the batch commits.
    func emitted(_ transition: NotificationRecorded, as envelopes: [EventEnvelope], on unit: UnitOfWork) throws {
        guard transition.deliveredNow, let channel = deliversNow else { return }
        // The delivery's own span, as the worker's: under the decision's, in the event's trace.
        let span = MessageTracing.span("notification sent", continuing: unit.traceparent, attributes: [
            "saga.order_id": transition.record.orderId, "notification.channel": channel.kind.rawValue])
        do {
            try channel.deliverNow(transition.record)
            span?.end()
        } catch {
            span?.failed(error)
            // Retried with the batch, never dead-lettered: the notification must not be lost.
            throw HandlerError.transient("the \(channel.kind.rawValue) channel did not take notification \(transition.record.notificationId): \(error)")
        }
        let sent = StoredNotification(
            record: transition.record, channel: channel.kind, state: .sent, createdAtUnixMs: now, sentAtUnixMs: now,
            attempts: 1, lastError: nil, nextAttemptAtUnixMs: now, cause: cause)
        let delivered = delivered
        unit.afterCommit { delivered.committed(deliveries: 1, sent: [sent]) }
    }
}

/// Notification's part of the write path for a delivery: the row SENT, NotificationSent emitted.
struct DeliveredStep: TransitionStep {
    let notification: StoredNotification
    let channel: ChannelKind
    let at: Int64

    var subject: String { "notification \(notification.record.notificationId)" }

    func load(on connection: any SQLConnection) throws -> StoredNotification? {
        try NotificationStore.load(orderId: notification.record.orderId, kind: notification.record.kind, on: connection)
    }

    func decide(_ stored: StoredNotification?) -> Decided<NotificationDelivered> {
        guard let stored else { return .ignored(reason: "notification \(notification.record.notificationId) is gone") }
        return NotificationDecider.delivered(stored.record, alreadySent: stored.state == .sent, channel: channel.proto, at: at)
    }

    func describe(_ stored: StoredNotification?) -> String { "notification \(stored?.state.rawValue ?? "none")" }

    /// False if the row is not PENDING any more (another worker recorded the delivery).
    func write(_ transition: NotificationDelivered, in unit: UnitOfWork) throws -> Bool {
        try NotificationStore.markSent(transition.record.notificationId, channel: channel, at: at, on: unit.connection)
    }
}
