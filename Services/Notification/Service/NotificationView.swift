import SagaAPI

extension NotificationView {
    init(_ stored: StoredNotification) {
        self.init(notificationId: stored.record.notificationId, orderId: stored.record.orderId, kind: stored.record.kind.rawValue,
                  customerId: stored.record.customerId, channel: stored.channel.rawValue, message: stored.record.message,
                  state: stored.state.rawValue, createdAt: stored.createdAtUnixMs, sentAt: stored.sentAtUnixMs,
                  attempts: stored.attempts, deliveries: stored.state == .sent ? 1 : 0)
    }
}
