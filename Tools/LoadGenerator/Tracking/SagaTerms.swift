import EventSchema

/// An order's status as the Order service reports it.
enum OrderStatus: String, Sendable, Codable, Hashable {
    case pending = "PENDING"
    case confirmed = "CONFIRMED"
    case cancelled = "CANCELLED"

    var isTerminal: Bool { self != .pending }
}

/// The kind of a notification, as /notifications names it.
enum NotificationKind: String, Sendable, Codable, Hashable {
    case orderConfirmed = "ORDER_CONFIRMED"
    case orderCancelled = "ORDER_CANCELLED"

    /// The kind a terminal order must be notified with.
    init?(for status: OrderStatus) {
        switch status {
        case .pending: return nil
        case .confirmed: self = .orderConfirmed
        case .cancelled: self = .orderCancelled
        }
    }

    init?(_ kind: Saga_V1_NotificationSent.Kind) {
        switch kind {
        case .orderConfirmed: self = .orderConfirmed
        case .orderCancelled: self = .orderCancelled
        default: return nil
        }
    }
}

/// The API's `cancelReason` text for the reason carried by OrderCancelled.
func cancelReasonText(_ reason: Saga_V1_OrderCancelled.Reason) -> String {
    switch reason {
    case .outOfStock: "out_of_stock"
    case .paymentFailed: "payment_failed"
    case .timeout: "timeout"
    default: "unknown"
    }
}
