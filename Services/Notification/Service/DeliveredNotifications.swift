import Metrics
import SagaAPI

/// What follows a committed delivery, whoever delivered it (the consumer in its transaction, or
/// the delivery worker): the deliveries counted and the SENT rows shown to the live streams, so
/// that a client only ever sees notifications that are SENT.
struct DeliveredNotifications: Sendable {
    let broadcaster: NotificationBroadcaster
    private let deliveries: Counter

    init(channel: ChannelKind, broadcaster: NotificationBroadcaster) {
        self.broadcaster = broadcaster
        deliveries = Counter(label: "notifications_delivered_total", dimensions: [("channel", channel.rawValue)])
    }

    /// `deliveries`: how many the channel took (a row whose SENT another worker recorded first
    /// was still delivered); `sent`: the rows this transaction moved to SENT.
    func committed(deliveries count: Int, sent: [StoredNotification]) {
        if count > 0 { deliveries.increment(by: count) }
        if !sent.isEmpty { broadcaster.publish(sent.map(NotificationView.init)) }
    }
}
