import EventSchema

/// Notification's rule: one notification per (order, kind), on the order's
/// terminal event, whatever the number of deliveries of that event.
public enum NotificationDecider {
    /// The events Notification acts on: an order's terminal events.
    public static let handledEvents: Set<EventType> = [.orderConfirmed, .orderCancelled]

    public static func notificationId(orderId: String, kind: NotificationKind) -> String {
        "\(orderId)/\(kind.rawValue.lowercased())"
    }

    /// - Parameter existing: the stored row for (`event.orderId`, `NotificationKind(for: event)`), nil if none.
    public static func decide(
        _ existing: NotificationRecord?, on event: SagaEvent,
        channel: Saga_V1_NotificationSent.Channel = .log, now: Int64
    ) -> NotificationDecision {
        guard let kind = NotificationKind(for: event) else { return .ignored(.notHandled(event.eventType)) }
        if let existing {
            guard existing.orderId == event.orderId, existing.kind == kind else {
                return .rejected(.recordMismatch(record: "\(existing.orderId)/\(existing.kind)", event: "\(event.orderId)/\(kind)"))
            }
            return .ignored(.alreadySent(kind, notificationId: existing.notificationId))
        }
        let (customerId, message): (String, String) = switch event {
        case let .orderConfirmed(e): (e.customerID, "Your order \(e.orderID) is confirmed: \(e.total.formatted) charged.")
        case let .orderCancelled(e): (e.customerID, "Your order \(e.orderID) was cancelled: \(describe(e)).")
        default: ("", "")  // unreachable: kind is nil for other events
        }
        let record = NotificationRecord(
            orderId: event.orderId, kind: kind, customerId: customerId,
            notificationId: notificationId(orderId: event.orderId, kind: kind),
            channel: channel, message: message, sentAtUnixMs: now)
        return .send(record, events: [record.sentEvent])
    }

    private static func describe(_ e: Saga_V1_OrderCancelled) -> String {
        let reason = switch e.reason {
        case .outOfStock: "some items are out of stock"
        case .paymentFailed: "the payment did not go through"
        case .timeout: "it could not be completed in time"
        case .unspecified, .UNRECOGNIZED: "it could not be completed"
        }
        return e.detail.isEmpty ? reason : "\(reason) (\(e.detail))"
    }
}
