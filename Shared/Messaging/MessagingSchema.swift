import Persistence

/// The runtime's tables, created by `MessagingSchema.migrations` (run them with the service's own
/// migrations: `database.migrate(MessagingSchema.migrations + serviceMigrations)`).
///
/// - `outbox`: events waiting for the relay, in id order. `created_at_us` is Unix time in
///   microseconds when the row was written (inside its transaction), for the age/latency figures.
/// - `outbox_sequences`: the last `sequence` given per (topic, order id). Emitting locks this row
///   first, so two transactions emitting for one order serialise here and their outbox ids follow
///   their sequence order (see `UnitOfWork.emit`). `updated_at_ms` (wall clock) is when the row was
///   last written: rows of orders idle for the sequence retention are pruned.
/// - `inbox`: event ids already handled per consumer group (duplicates published twice by a relay).
/// - `consumer_offsets`: the last processed offset per (group, topic, partition); the consumer
///   starts at `last_offset + 1`. The database, not Kafka, is the truth.
/// - `outbox_relay_lease`: which process's relay may publish (several instances on PostgreSQL).
public enum MessagingSchema {
    public static let migrations: [Migration] = [
        Migration(
            id: "messaging-001-outbox-inbox-offsets",
            sqlite: [
                """
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    topic TEXT NOT NULL,
                    key BLOB,
                    headers BLOB NOT NULL,
                    payload BLOB,
                    created_at_us INTEGER NOT NULL
                )
                """,
                """
                CREATE TABLE outbox_sequences (
                    topic TEXT NOT NULL,
                    order_id TEXT NOT NULL,
                    last_sequence INTEGER NOT NULL,
                    PRIMARY KEY (topic, order_id)
                ) WITHOUT ROWID
                """,
                """
                CREATE TABLE inbox (
                    consumer_group TEXT NOT NULL,
                    event_id BLOB NOT NULL,
                    received_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (consumer_group, event_id)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX inbox_received_at ON inbox (received_at_ms)",
                """
                CREATE TABLE consumer_offsets (
                    consumer_group TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    partition_id INTEGER NOT NULL,
                    last_offset INTEGER NOT NULL,
                    updated_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (consumer_group, topic, partition_id)
                ) WITHOUT ROWID
                """,
                """
                CREATE TABLE outbox_relay_lease (
                    name TEXT PRIMARY KEY,
                    holder TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    expires_at_ms INTEGER NOT NULL
                )
                """,
            ],
            postgres: [
                """
                CREATE TABLE outbox (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    topic TEXT NOT NULL,
                    key BYTEA,
                    headers BYTEA NOT NULL,
                    payload BYTEA,
                    created_at_us BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE outbox_sequences (
                    topic TEXT NOT NULL,
                    order_id TEXT NOT NULL,
                    last_sequence BIGINT NOT NULL,
                    PRIMARY KEY (topic, order_id)
                )
                """,
                """
                CREATE TABLE inbox (
                    consumer_group TEXT NOT NULL,
                    event_id BYTEA NOT NULL,
                    received_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (consumer_group, event_id)
                )
                """,
                "CREATE INDEX inbox_received_at ON inbox (received_at_ms)",
                """
                CREATE TABLE consumer_offsets (
                    consumer_group TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    partition_id INTEGER NOT NULL,
                    last_offset BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (consumer_group, topic, partition_id)
                )
                """,
                """
                CREATE TABLE outbox_relay_lease (
                    name TEXT PRIMARY KEY,
                    holder TEXT NOT NULL,
                    epoch BIGINT NOT NULL,
                    expires_at_ms BIGINT NOT NULL
                )
                """,
            ]),
        // Sequence rows are pruned by age; rows that exist already count as written now.
        Migration(
            id: "messaging-002-sequence-age",
            sqlite: [
                "ALTER TABLE outbox_sequences ADD COLUMN updated_at_ms INTEGER NOT NULL DEFAULT 0",
                "UPDATE outbox_sequences SET updated_at_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000",
                "CREATE INDEX outbox_sequences_updated_at ON outbox_sequences (updated_at_ms)",
            ],
            postgres: [
                "ALTER TABLE outbox_sequences ADD COLUMN updated_at_ms BIGINT NOT NULL DEFAULT 0",
                "UPDATE outbox_sequences SET updated_at_ms = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT",
                "CREATE INDEX outbox_sequences_updated_at ON outbox_sequences (updated_at_ms)",
            ]),
    ]
}
