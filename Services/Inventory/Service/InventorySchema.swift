import Persistence

/// Inventory's tables: stock per SKU (with the seeded initial amount, for the audit) and one
/// reservation row per order.
enum InventorySchema {
    static let migrations = [
        Migration(id: "inventory-001-tables", both: [
            """
            CREATE TABLE stock (
                sku TEXT PRIMARY KEY,
                initial BIGINT NOT NULL,
                available BIGINT NOT NULL CHECK (available >= 0),
                reserved BIGINT NOT NULL CHECK (reserved >= 0),
                sold BIGINT NOT NULL CHECK (sold >= 0)
            )
            """,
            """
            CREATE TABLE reservations (
                order_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                state TEXT NOT NULL,
                lines TEXT NOT NULL,
                updated_at_ms BIGINT NOT NULL
            )
            """,
        ]),
    ]
}
