import EventSchema

/// One notification, unique on (order_id, kind): the decision's content. The service
/// stores it with a delivery state (PENDING until the channel took it, then SENT).
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
