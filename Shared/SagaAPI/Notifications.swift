/// A notification as `GET /notifications` and the live stream show it.
public struct NotificationView: Codable, Sendable, Hashable {
    public var notificationId: String
    public var orderId: String
    /// ORDER_CONFIRMED or ORDER_CANCELLED.
    public var kind: String
    public var customerId: String
    public var channel: String
    public var message: String
    /// PENDING or SENT.
    public var state: String
    public var createdAt: Int64
    /// null while PENDING.
    public var sentAt: Int64?
    /// Delivery attempts by the worker, failed ones included (a webhook attempt makes up to
    /// three HTTP requests).
    public var attempts: Int64
    /// Deliveries the service recorded: 1 once SENT. (A delivery repeated after a crash between
    /// sending and recording it is, by nature, not counted: see `DeliveryWorker`.)
    public var deliveries: Int64

    public init(notificationId: String, orderId: String, kind: String, customerId: String, channel: String, message: String,
                state: String, createdAt: Int64, sentAt: Int64?, attempts: Int64, deliveries: Int64) {
        self.notificationId = notificationId
        self.orderId = orderId
        self.kind = kind
        self.customerId = customerId
        self.channel = channel
        self.message = message
        self.state = state
        self.createdAt = createdAt
        self.sentAt = sentAt
        self.attempts = attempts
        self.deliveries = deliveries
    }

    enum CodingKeys: String, CodingKey {
        case notificationId, orderId, kind, customerId, channel, message, state, createdAt, sentAt, attempts, deliveries
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(notificationId, forKey: .notificationId)
        try c.encode(orderId, forKey: .orderId)
        try c.encode(kind, forKey: .kind)
        try c.encode(customerId, forKey: .customerId)
        try c.encode(channel, forKey: .channel)
        try c.encode(message, forKey: .message)
        try c.encode(state, forKey: .state)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(sentAt, forKey: .sentAt)  // explicit null while PENDING
        try c.encode(attempts, forKey: .attempts)
        try c.encode(deliveries, forKey: .deliveries)
    }
}
