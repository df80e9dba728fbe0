import Persistence

/// Payment's tables: customer accounts (with the seeded initial balance, for the audit) and one
/// payment row per order.
enum PaymentSchema {
    static let migrations = [
        Migration(id: "payment-001-tables", both: [
            """
            CREATE TABLE accounts (
                customer_id TEXT PRIMARY KEY,
                currency TEXT NOT NULL,
                initial_balance BIGINT NOT NULL,
                balance BIGINT NOT NULL CHECK (balance >= 0),
                blocked INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE payments (
                order_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                state TEXT NOT NULL,
                amount_minor BIGINT,
                currency TEXT,
                payment_id TEXT,
                refund_id TEXT,
                failure_reason INTEGER,
                updated_at_ms BIGINT NOT NULL
            )
            """,
        ]),
        // A customer's own listing (GET /payments with a customer token).
        Migration(id: "payment-002-customer-listing", both: [
            "CREATE INDEX payments_customer ON payments (customer_id, order_id)",
        ]),
    ]
}
