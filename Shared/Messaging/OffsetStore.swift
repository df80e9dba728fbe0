import Kafka
import Persistence

/// The `consumer_offsets` table: last processed offset per (group, topic, partition).
enum OffsetStore {
    /// Every stored offset of `group`.
    static func load(group: String, on connection: any SQLConnection) throws -> [TopicPartition: Int64] {
        let rows = try connection.query(
            "SELECT topic, partition_id, last_offset FROM consumer_offsets WHERE consumer_group = ?", [.text(group)])
        var offsets: [TopicPartition: Int64] = [:]
        for row in rows {
            guard let topic = row.string("topic"), let partition = row.int("partition_id"),
                  let offset = row.int("last_offset") else { continue }
            offsets[TopicPartition(topic: topic, partition: Int32(partition))] = offset
        }
        return offsets
    }

    private static let lockStatement = MultiRowStatement(
        "INSERT INTO consumer_offsets (consumer_group, topic, partition_id, last_offset, updated_at_ms)",
        columns: 5,
        suffix: """
            ON CONFLICT (consumer_group, topic, partition_id) DO UPDATE SET last_offset = consumer_offsets.last_offset
            RETURNING topic, partition_id, last_offset
            """,
        maxRows: 64)

    /// Locks the offset rows of `partitions` for this transaction (creating missing ones at -1)
    /// and returns their committed values.
    ///
    /// This is the fence against a member that lost its partitions while still working on a
    /// batch: on PostgreSQL the second transaction for a partition waits here until the first
    /// commits and then sees its offset, so it skips what the first already processed. SQLite
    /// has one writer, which gives the same order.
    static func lock(group: String, partitions: [TopicPartition], on connection: any SQLConnection) throws -> [TopicPartition: Int64] {
        // A fixed order, so two transactions locking overlapping sets cannot deadlock.
        let sorted = partitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        let now = WallClock.nowMillis()
        let rows = try lockStatement.query(sorted.map {
            [.text(group), .text($0.topic), .integer(Int64($0.partition)), .integer(-1), .integer(now)]
        }, on: connection)
        var offsets: [TopicPartition: Int64] = [:]
        for row in rows {
            guard let topic = row.string("topic"), let partition = row.int("partition_id"),
                  let offset = row.int("last_offset") else { continue }
            offsets[TopicPartition(topic: topic, partition: Int32(partition))] = offset
        }
        return offsets
    }

    private static let storeStatement = MultiRowStatement(
        "INSERT INTO consumer_offsets (consumer_group, topic, partition_id, last_offset, updated_at_ms)",
        columns: 5,
        suffix: """
            ON CONFLICT (consumer_group, topic, partition_id) DO UPDATE
            SET last_offset = excluded.last_offset, updated_at_ms = excluded.updated_at_ms
            WHERE consumer_offsets.last_offset < excluded.last_offset
            """,
        maxRows: 64)

    /// Stores the last processed offsets; never moves one backwards.
    static func store(group: String, offsets: [TopicPartition: Int64], on connection: any SQLConnection) throws {
        guard !offsets.isEmpty else { return }
        let now = WallClock.nowMillis()
        let sorted = offsets.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
        // Pipelined with the COMMIT that follows: nothing in the batch depends on its outcome.
        try storeStatement.executePipelined(sorted.map {
            [.text(group), .text($0.key.topic), .integer(Int64($0.key.partition)), .integer($0.value), .integer(now)]
        }, on: connection)
    }

    /// Sets the last processed offset of one partition, backwards too: an operator's decision
    /// (`kafka-tool offsets reset`) or the `accept` anomaly policy, never the consumer's own path.
    static func reset(group: String, partition: TopicPartition, lastProcessed: Int64, on connection: any SQLConnection) throws {
        try connection.execute("""
            INSERT INTO consumer_offsets (consumer_group, topic, partition_id, last_offset, updated_at_ms) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (consumer_group, topic, partition_id) DO UPDATE
            SET last_offset = excluded.last_offset, updated_at_ms = excluded.updated_at_ms
            """, [.text(group), .text(partition.topic), .integer(Int64(partition.partition)), .integer(lastProcessed),
                  .integer(WallClock.nowMillis())])
    }
}

/// The stored offsets of a service's database, for operators' tools (`kafka-tool offsets`).
public enum StoredOffsets {
    /// Last processed offset per partition of `group` (-1 stored: nothing processed).
    public static func load(group: String, from database: any SQLDatabase) async throws -> [TopicPartition: Int64] {
        try await database.read { try OffsetStore.load(group: group, on: $0) }
    }

    /// Sets the last processed offset of one partition, backwards too. A consumer holding the
    /// partition for an offset anomaly picks the new value up within seconds; one that is
    /// consuming it goes on from where it is (stop the service first to rewind a live partition).
    public static func reset(group: String, partition: TopicPartition, lastProcessed: Int64, in database: any SQLDatabase) async throws {
        try await database.write { try OffsetStore.reset(group: group, partition: partition, lastProcessed: lastProcessed, on: $0) }
    }
}
