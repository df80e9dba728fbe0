import EventSchema
import Messaging
import NotificationCore

/// What Notification does with orders.v1: on OrderConfirmed / OrderCancelled it records one
/// PENDING notification per (order, kind). It runs inside the consumer's batch transaction, so
/// it never touches the channel: a network call here would hold the transaction (and, on
/// SQLite, the only writer) for as long as the receiver takes. The delivery worker sends it
/// after the commit and emits NotificationSent then.
enum NotificationEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork, channel: ChannelKind) throws -> HandlerOutcome {
        guard let kind = NotificationKind(for: event.event) else { return .ignored }
        // Also the row's first due time: on the database's clock, like the worker's claims.
        let now = try unit.connection.databaseTimeMillis()
        let existing = try NotificationStore.load(orderId: event.envelope.orderId, kind: kind, on: unit.connection)
        switch NotificationDecider.decide(existing?.record, on: event.event, channel: channel.proto, now: now) {
        case .ignored(let reason):
            event.debug("ignored", metadata: ["reason": "\(reason)"])
            return .ignored
        case .rejected(let rejection):
            throw HandlerError.permanent(rejection.description)
        case .send(let record, _):
            // The decision's NotificationSent is not emitted here: it would claim a delivery that
            // has not happened. The worker emits it (with the real send time) once the channel took it.
            // The worker's NotificationSent continues this event's saga, under the decision's span.
            let cause = StoredNotification.Cause(eventId: event.envelope.eventId, correlationId: event.envelope.correlationId,
                                                 traceparent: unit.traceparent ?? event.envelope.traceparent)
            guard try NotificationStore.insertPending(record, channel: channel, now: now, cause: cause, on: unit.connection) else {
                return .ignored
            }
            event.debug("notification recorded", metadata: ["notification-id": "\(record.notificationId)"])
            return .applied
        }
    }
}
