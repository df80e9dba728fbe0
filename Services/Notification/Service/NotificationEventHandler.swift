import Deciding
import EventSchema
import Messaging
import NotificationCore
import Persistence
import ServiceKit

/// What Notification does with orders.v1: on OrderConfirmed / OrderCancelled it records one
/// PENDING notification per (order, kind). It runs inside the consumer's batch transaction, so
/// it never touches the channel: a network call here would hold the transaction (and, on
/// SQLite, the only writer) for as long as the receiver takes. The delivery worker sends it
/// after the commit and emits NotificationSent then. (The runtime hands it only
/// `NotificationDecider.handledEvents`.)
enum NotificationEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork, channel: ChannelKind) throws -> HandlerOutcome {
        // The worker's NotificationSent continues this event's saga, under the decision's span.
        let step = RecordNotificationStep(
            event: event.event, channel: channel, now: try unit.connection.databaseTimeMillis(),
            cause: event.envelope.cause.continuing(unit.traceparent))
        return try TransitionWriter.handle(event, with: step, unit: unit)
    }
}

/// Notification's part of the write path for a consumed event: the (order, kind) row recorded.
struct RecordNotificationStep: TransitionStep {
    let event: SagaEvent
    let channel: ChannelKind
    /// The row's first due time: on the database's clock, like the worker's claims.
    let now: Int64
    let cause: EventCause

    var subject: String { "notification of \(event.orderId)" }

    func load(on connection: any SQLConnection) throws -> NotificationRecord? {
        guard let kind = NotificationKind(for: event) else { return nil }
        return try NotificationStore.load(orderId: event.orderId, kind: kind, on: connection)?.record
    }

    func decide(_ existing: NotificationRecord?) -> Decided<NotificationRecorded> {
        NotificationDecider.decide(existing, on: event, channel: channel.proto, now: now).recorded
    }

    /// False if a concurrent consumer (another instance, PostgreSQL) recorded it first.
    func write(_ transition: NotificationRecorded, on connection: any SQLConnection) throws -> Bool {
        try NotificationStore.insertPending(transition.record, channel: channel, now: now, cause: cause, on: connection)
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
    func write(_ transition: NotificationDelivered, on connection: any SQLConnection) throws -> Bool {
        try NotificationStore.markSent(transition.record.notificationId, channel: channel, at: at, on: connection)
    }
}
