import Logging
import NotificationCore

/// The default channel: one structured log line per notification (the reference platform has
/// no mail or SMS gateway). Never fails.
struct LogChannel: NotificationChannel {
    let logger: Logger
    let kind = ChannelKind.log
    let concurrency = 1
    let maximumDeliveryTime = Duration.milliseconds(50)

    func deliver(_ record: NotificationRecord) async throws {
        logger.info("notification sent", metadata: [
            "notification-id": "\(record.notificationId)", "order-id": "\(record.orderId)",
            "customer-id": "\(record.customerId)", "kind": "\(record.kind.rawValue)", "message": "\(record.message)",
        ])
    }
}
