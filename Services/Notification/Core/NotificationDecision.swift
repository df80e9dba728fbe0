import EventSchema

/// What Notification does with one event. `send` is persisted as a PENDING row,
/// unique on (order_id, kind), in the consumer's transaction; the delivery worker
/// delivers it after the commit and, in the transaction that marks it SENT, emits
/// `events` (NotificationSent): exactly once per notification, whatever the channel
/// retries cost.
public enum NotificationDecision: Sendable, Hashable {
    case send(NotificationRecord, events: [SagaEvent])
    case ignored(NotificationIgnoreReason)
    case rejected(NotificationRejection)

    public var sent: NotificationRecord? {
        if case let .send(record, _) = self { record } else { nil }
    }
}

public enum NotificationIgnoreReason: Sendable, Hashable, CustomStringConvertible {
    case alreadySent(NotificationKind, notificationId: String)
    case notHandled(EventType)

    public var description: String {
        switch self {
        case let .alreadySent(kind, id): "\(kind) notification already sent (\(id))"
        case let .notHandled(type): "\(type) is not handled by the Notification service"
        }
    }
}

public enum NotificationRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stored record is for another order or kind than the event (a bug in the caller).
    case recordMismatch(record: String, event: String)

    public var description: String {
        switch self {
        case let .recordMismatch(record, event): "notification \(record) looked up for \(event)"
        }
    }
}
