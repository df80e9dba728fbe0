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
        // Idempotency-Keys belong to the caller that sent them (the token's subject): one
        // customer's key can neither replay nor reveal another's order. Keys kept from before
        // belong to the customer of their order, the only one who could place it.
        Migration(id: "order-004-idempotency-keys-per-principal", both: [
            """
            CREATE TABLE idempotency_keys_by_principal (
                principal TEXT NOT NULL,
                idempotency_key TEXT NOT NULL,
                request_fingerprint TEXT NOT NULL,
                order_id TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                PRIMARY KEY (principal, idempotency_key)
            )
            """,
            """
            INSERT INTO idempotency_keys_by_principal (principal, idempotency_key, request_fingerprint, order_id, created_at_ms)
            SELECT o.customer_id, k.idempotency_key, k.request_fingerprint, k.order_id, k.created_at_ms
            FROM idempotency_keys k JOIN orders o ON o.order_id = k.order_id
            """,
            "DROP TABLE idempotency_keys",
            "ALTER TABLE idempotency_keys_by_principal RENAME TO idempotency_keys",
            "CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at_ms)",
            // A customer's own listing (GET /orders with a customer token).
            "CREATE INDEX orders_customer ON orders (customer_id, order_id)",
        ]),
    ]
}
