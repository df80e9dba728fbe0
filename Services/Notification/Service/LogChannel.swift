import Logging
import NotificationCore

/// The default channel: one structured log line per notification (the reference platform has
/// no mail or SMS gateway). Never fails; the consumer delivers it in its own transaction.
struct LogChannel: InTransactionChannel {
    let logger: Logger
    let kind = ChannelKind.log
    let concurrency = 1
    let maximumDeliveryTime = Duration.milliseconds(50)

    /// Rows recorded PENDING (by a build that delivered every channel through the worker) still
    /// go through the worker, and end here.
    func deliver(_ record: NotificationRecord) async throws {
        deliverNow(record)
    }

    func deliverNow(_ record: NotificationRecord) {
        logger.info("notification sent", metadata: [
            "notification-id": "\(record.notificationId)", "order-id": "\(record.orderId)",
            "customer-id": "\(record.customerId)", "kind": "\(record.kind.rawValue)", "message": "\(record.message)",
        ])
    }
}
