import EventSchema

/// One row of the `notifications` table, unique on (order_id, kind): its existence
/// means the notification was sent (state SENT; there is no other state).
public struct NotificationRecord: Sendable, Hashable {
    public var orderId: String
    public var kind: NotificationKind
    public var customerId: String
    public var notificationId: String
    public var channel: Saga_V1_NotificationSent.Channel
    /// The text delivered to the customer.
    public var message: String
    public var sentAtUnixMs: Int64

    public init(
        orderId: String, kind: NotificationKind, customerId: String, notificationId: String,
        channel: Saga_V1_NotificationSent.Channel, message: String, sentAtUnixMs: Int64
    ) {
        self.orderId = orderId
        self.kind = kind
        self.customerId = customerId
        self.notificationId = notificationId
        self.channel = channel
        self.message = message
        self.sentAtUnixMs = sentAtUnixMs
    }

    public var sentEvent: SagaEvent {
        var e = Saga_V1_NotificationSent()
        e.orderID = orderId
        e.customerID = customerId
        e.kind = kind.proto
        e.channel = channel
        e.notificationID = notificationId
        e.sentAtUnixMs = sentAtUnixMs
        return .notificationSent(e)
    }
}
