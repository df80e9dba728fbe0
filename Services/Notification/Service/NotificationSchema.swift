import Persistence

/// The Notification service's one table. A row is written PENDING by the consumer (unique per
/// order and kind: the exactly-once part) and turned SENT by the delivery worker after the
/// channel took it; `next_attempt_at_ms` is both the retry backoff and the worker's claim.
enum NotificationSchema {
    static let migrations = [
        Migration(id: "notification-001-tables", both: [
            """
            CREATE TABLE notifications (
                notification_id TEXT PRIMARY KEY,
                order_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                channel TEXT NOT NULL,
                message TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                state TEXT NOT NULL,
                sent_at_ms BIGINT,
                attempts BIGINT NOT NULL DEFAULT 0,
                last_error TEXT,
                next_attempt_at_ms BIGINT NOT NULL,
                UNIQUE (order_id, kind)
            )
            """,
            // The delivery worker's query: PENDING rows in created order.
            "CREATE INDEX notifications_state_created ON notifications (state, created_at_ms)",
        ]),
        // The consumed event a notification answers (event id, correlation id, trace context),
        // so that the worker's NotificationSent continues that saga and trace (NULL for rows
        // recorded before: a new correlation).
        Migration(id: "notification-002-saga-context", both: [
            "ALTER TABLE notifications ADD COLUMN cause_event_id TEXT",
            "ALTER TABLE notifications ADD COLUMN correlation_id TEXT",
            "ALTER TABLE notifications ADD COLUMN traceparent TEXT",
        ]),
        // A customer's own listing (GET /notifications with a customer token).
        Migration(id: "notification-003-customer-listing", both: [
            "CREATE INDEX notifications_customer ON notifications (customer_id, notification_id)",
        ]),
    ]
}
