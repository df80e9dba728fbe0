import Persistence

/// The Order service's tables: the orders themselves, the Idempotency-Keys of POST /orders,
/// and the history of events each order saw (GET /orders/{id}).
enum OrderSchema {
    static let migrations = [
        Migration(id: "order-001-tables", both: [
            """
            CREATE TABLE orders (
                order_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                lines TEXT NOT NULL,
                total_minor BIGINT NOT NULL,
                currency TEXT NOT NULL,
                placed_at_ms BIGINT NOT NULL,
                deadline_ms BIGINT NOT NULL,
                status TEXT NOT NULL,
                cancel_reason TEXT,
                payment_failure INTEGER,
                payment_id TEXT,
                detail TEXT NOT NULL DEFAULT '',
                closed_at_ms BIGINT
            )
            """,
            // The sweeper's query: PENDING orders by deadline.
            "CREATE INDEX orders_status_deadline ON orders (status, deadline_ms)",
            """
            CREATE TABLE idempotency_keys (
                idempotency_key TEXT PRIMARY KEY,
                request_fingerprint TEXT NOT NULL,
                order_id TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE order_events (
                order_id TEXT NOT NULL,
                event_id TEXT NOT NULL,
                topic TEXT NOT NULL,
                event_type TEXT NOT NULL,
                sequence BIGINT NOT NULL,
                at_ms BIGINT NOT NULL,
                PRIMARY KEY (order_id, event_id)
            )
            """,
        ]),
        // Idempotency keys are pruned by age.
        Migration(id: "order-002-idempotency-key-age", both: [
            "CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at_ms)",
        ]),
        // The saga's correlation id and the trace context of its OrderPlaced, so that the deadline
        // sweeper's OrderCancelled continues both (NULL for orders placed before: a new correlation).
        Migration(id: "order-003-saga-context", both: [
            "ALTER TABLE orders ADD COLUMN correlation_id TEXT",
            "ALTER TABLE orders ADD COLUMN traceparent TEXT",
        ]),
    ]
}
