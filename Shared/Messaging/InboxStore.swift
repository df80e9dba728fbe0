import Foundation
import Persistence

/// The `inbox` table: event ids a consumer group has handled.
enum InboxStore {
    private static let insertStatement = MultiRowStatement(
        "INSERT INTO inbox (consumer_group, event_id, received_at_ms)", columns: 3,
        suffix: "ON CONFLICT (consumer_group, event_id) DO NOTHING RETURNING event_id", maxRows: 256)

    /// Records `ids` (distinct) and returns those that were not there yet: only their events run.
    ///
    /// Inserting first (rather than looking up, then inserting) also makes a concurrent
    /// transaction with the same id wait for this one on PostgreSQL and then see the conflict.
    static func insertNew(group: String, ids: [UUID], on connection: any SQLConnection) throws -> Set<UUID> {
        guard !ids.isEmpty else { return [] }
        let now = WallClock.nowMillis()
        let rows = try insertStatement.query(ids.map { [.text(group), .blob($0.bytes), .integer(now)] }, on: connection)
        var inserted = Set<UUID>(minimumCapacity: rows.count)
        for row in rows {
            if let bytes = row.bytes("event_id"), let id = UUID(bytes: bytes) { inserted.insert(id) }
        }
        return inserted
    }

    /// Deletes up to `limit` rows of `group` received before `cutoffMs`; returns how many.
    static func prune(group: String, receivedBefore cutoffMs: Int64, limit: Int, on connection: any SQLConnection) throws -> Int {
        try connection.execute("""
            DELETE FROM inbox WHERE consumer_group = ? AND event_id IN (
                SELECT event_id FROM inbox WHERE consumer_group = ? AND received_at_ms < ? LIMIT ?)
            """, [.text(group), .text(group), .integer(cutoffMs), .integer(Int64(limit))])
    }
}

extension UUID {
    /// The 16 bytes, as stored in `inbox.event_id`.
    var bytes: [UInt8] {
        withUnsafeBytes(of: uuid) { Array($0) }
    }

    init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes) }
        self.init(uuid: value)
    }
}
