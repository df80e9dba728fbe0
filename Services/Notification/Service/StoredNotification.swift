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
    /// The consumed event this notification answers: what its NotificationSent continues.
    var cause: EventCause?
}
