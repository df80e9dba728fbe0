import Foundation
import Kafka
import Persistence

/// A batch's first statement: the offsets fence (`OffsetStore.lock`) and the inbox claim
/// (`InboxStore.insertNew`) together. It spans both tables because on PostgreSQL the two are one
/// statement, one round trip at the head of every batch instead of two.
enum BatchClaim {
    /// A message that carries an event id, where it was read.
    struct Candidate {
        let id: UUID
        let partition: TopicPartition
        let offset: Int64
    }

    struct Claimed {
        /// The committed last offset of each partition, read under its row lock.
        let stored: [TopicPartition: Int64]
        /// The ids, of messages past the fence, that were not in the inbox yet: only their events run.
        let fresh: Set<UUID>
    }

    /// Locks the offset rows of `partitions` and records the ids of the `candidates` the fence lets
    /// through (each id once). Lock order as before: offset rows, sorted, then inbox rows.
    static func claim(group: String, partitions: [TopicPartition], candidates: [Candidate],
                      on connection: any SQLConnection) throws -> Claimed {
        switch connection.dialect {
        case .sqlite:
            // In process, two statements cost no round trip.
            let stored = try OffsetStore.lock(group: group, partitions: partitions, on: connection)
            var seen = Set<UUID>()
            let ids = candidates.filter { $0.offset > stored[$0.partition] ?? -1 && seen.insert($0.id).inserted }.map(\.id)
            return Claimed(stored: stored, fresh: try InboxStore.insertNew(group: group, ids: ids, on: connection))
        case .postgres:
            return try claimInOneStatement(group: group, partitions: partitions, candidates: candidates, on: connection)
        }
    }

    /// The lists go as comma-separated text binds (topic names have no commas; ids as hex), so the
    /// statement has one text, prepared once, whatever the batch's size. The inbox insert reads
    /// the offsets the first part returned: it runs after their locks, and leaves out messages
    /// at or below the fence. `UNION ALL` reads the offsets first.
    private static let statement = """
        WITH offsets AS (
            INSERT INTO consumer_offsets (consumer_group, topic, partition_id, last_offset, updated_at_ms)
            SELECT ?, p.topic, p.partition_id, -1, ?
            FROM unnest(string_to_array(?, ','), string_to_array(?, ',')::bigint[]) AS p (topic, partition_id)
            ORDER BY p.topic, p.partition_id
            ON CONFLICT (consumer_group, topic, partition_id) DO UPDATE SET last_offset = consumer_offsets.last_offset
            RETURNING topic, partition_id, last_offset
        ), claimed AS (
            INSERT INTO inbox (consumer_group, event_id, received_at_ms)
            SELECT DISTINCT ?, decode(c.event_id, 'hex'), ?
            FROM unnest(string_to_array(?, ','), string_to_array(?, ','), string_to_array(?, ',')::bigint[],
                        string_to_array(?, ',')::bigint[]) AS c (event_id, topic, partition_id, message_offset)
            JOIN offsets AS o ON o.topic = c.topic AND o.partition_id = c.partition_id
            WHERE c.message_offset > o.last_offset
            ORDER BY 2
            ON CONFLICT (consumer_group, event_id) DO NOTHING
            RETURNING event_id
        )
        SELECT topic, partition_id, last_offset, NULL::bytea AS event_id FROM offsets
        UNION ALL
        SELECT NULL, NULL, NULL, event_id FROM claimed
        """

    private static func claimInOneStatement(group: String, partitions: [TopicPartition], candidates: [Candidate],
                                            on connection: any SQLConnection) throws -> Claimed {
        func list<S: Sequence>(_ values: S) -> SQLValue { .text(values.map { "\($0)" }.joined(separator: ",")) }
        let now = SQLValue.integer(WallClock.nowMillis())
        let rows = try connection.query(statement, [
            .text(group), now, list(partitions.map(\.topic)), list(partitions.map(\.partition)),
            .text(group), now, list(candidates.map { hex($0.id.bytes) }), list(candidates.map(\.partition.topic)),
            list(candidates.map(\.partition.partition)), list(candidates.map(\.offset)),
        ])
        var stored: [TopicPartition: Int64] = [:]
        var fresh = Set<UUID>()
        for row in rows {
            if let topic = row.string("topic"), let partition = row.int("partition_id"), let offset = row.int("last_offset") {
                stored[TopicPartition(topic: topic, partition: Int32(partition))] = offset
            } else if let bytes = row.bytes("event_id"), let id = UUID(bytes: bytes) {
                fresh.insert(id)
            }
        }
        return Claimed(stored: stored, fresh: fresh)
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
