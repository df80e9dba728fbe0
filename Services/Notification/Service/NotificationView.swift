/// A notification as GET /notifications and the live stream show it.
struct NotificationView: Codable, Sendable {
    var notificationId: String
    var orderId: String
    var kind: String
    var customerId: String
    var channel: String
    var message: String
    var state: String
    var createdAt: Int64
    var sentAt: Int64?
    /// Delivery attempts by the worker, failed ones included (a webhook attempt makes up to
    /// three HTTP requests).
    var attempts: Int64
    /// Deliveries the service recorded: 1 once SENT. (A delivery repeated after a crash between
    /// sending and recording it is, by nature, not counted: see `DeliveryWorker`.)
    var deliveries: Int64

    init(_ stored: StoredNotification) {
        notificationId = stored.record.notificationId
        orderId = stored.record.orderId
        kind = stored.record.kind.rawValue
        customerId = stored.record.customerId
        channel = stored.channel.rawValue
        message = stored.record.message
        state = stored.state.rawValue
        createdAt = stored.createdAtUnixMs
        sentAt = stored.sentAtUnixMs
        attempts = stored.attempts
        deliveries = stored.state == .sent ? 1 : 0
    }

    enum CodingKeys: String, CodingKey {
        case notificationId, orderId, kind, customerId, channel, message, state, createdAt, sentAt, attempts, deliveries
    }

    func encode(to encoder: any Encoder) throws {
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

/// GET /notifications?orderId=: every notification of one order, unpaged (two at most).
struct NotificationItems: Encodable, Sendable {
    var items: [NotificationView]
}
