import EventSchema
import Foundation
import NotificationCore

/// Where a notification is in its life: recorded by the consumer, then delivered.
enum DeliveryState: String, Sendable {
    case pending = "PENDING"
    case sent = "SENT"
}

/// A `notifications` row: the domain record plus the delivery bookkeeping the core does not know.
struct StoredNotification: Sendable {
    var record: NotificationRecord
    /// The channel that delivered it (SENT) or that it was recorded for (PENDING).
    var channel: ChannelKind
    var state: DeliveryState
    var createdAtUnixMs: Int64
    var sentAtUnixMs: Int64?
    var attempts: Int64
    var lastError: String?
    var nextAttemptAtUnixMs: Int64
    /// The consumed event this notification answers, as far as NotificationSent needs it.
    var cause: Cause?

    struct Cause: Sendable {
        var eventId: UUID
        var correlationId: UUID
        var traceparent: String?

        /// An envelope standing for the consumed event, for `UnitOfWork.emit(causedBy:)`, which
        /// takes its event id (causation), correlation id and trace context.
        func envelope(orderId: String, kind: NotificationKind) -> EventEnvelope {
            EventEnvelope(eventId: eventId, eventType: kind == .orderConfirmed ? .orderConfirmed : .orderCancelled,
                          orderId: orderId, sequence: 0, correlationId: correlationId, traceparent: traceparent)
        }
    }
}
