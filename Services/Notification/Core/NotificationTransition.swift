import Deciding
import EventSchema

/// A notification recorded by the consumer, in its transaction. Either to be delivered later
/// (PENDING): it emits nothing, since a NotificationSent now would claim a delivery that has not
/// happened; or delivered in that same transaction, by a channel that can (SENT): it emits
/// NotificationSent with it.
public struct NotificationRecorded: StateTransition, Hashable {
    public let record: NotificationRecord
    public let deliveredNow: Bool
    public var events: [SagaEvent] { deliveredNow ? [record.sentEvent] : [] }
}

/// The channel took the notification (SENT): NotificationSent with the real send time, exactly
/// once, since only the write that moved the row from PENDING emits it.
public struct NotificationDelivered: StateTransition, Hashable {
    public let record: NotificationRecord
    public var events: [SagaEvent] { [record.sentEvent] }
}

extension NotificationDecision {
    /// What the consumer writes for this decision: the notification recorded, to be delivered
    /// later, or delivered now when `deliveredNow` (its send time is the decision's `now`).
    public func recorded(deliveredNow: Bool) -> Decided<NotificationRecorded> {
        switch self {
        case .send(let record, _): .transition(NotificationRecorded(record: record, deliveredNow: deliveredNow))
        case .ignored(let reason): .ignored(reason: reason.description)
        case .rejected(let rejection): .rejected(reason: rejection.description)
        }
    }
}

extension NotificationDecider {
    /// The channel took `record` at `at`: SENT, and NotificationSent with that time. Nothing if
    /// the delivery is recorded already (another worker's NotificationSent is the one).
    public static func delivered(
        _ record: NotificationRecord, alreadySent: Bool, channel: Saga_V1_NotificationSent.Channel, at: Int64
    ) -> Decided<NotificationDelivered> {
        guard !alreadySent else {
            return .ignored(reason: NotificationIgnoreReason.alreadySent(record.kind, notificationId: record.notificationId).description)
        }
        var sent = record
        sent.sentAtUnixMs = at
        sent.channel = channel
        return .transition(NotificationDelivered(record: sent))
    }
}
