import EventSchema
import Persistence

/// Reads and writes `idempotency_keys`: which order a caller placed with an Idempotency-Key,
/// and the fingerprint of the request that placed it.
enum IdempotencyKeyStore {
    struct Entry: RowDecodable {
        let fingerprint: String?
        let orderId: String?

        init(row: SQLRow) {
            fingerprint = row.string("request_fingerprint")
            orderId = row.string("order_id")
        }
    }

    /// `principal`'s use of `key`, if any; another principal's use of the same key is not seen.
    static func find(principal: String, key: String, on connection: any SQLConnection) throws -> Entry? {
        try connection.fetchOne(Entry.self,
            "SELECT request_fingerprint, order_id FROM idempotency_keys WHERE principal = ? AND idempotency_key = ?",
            [.text(principal), .text(key)])
    }

    /// Records `principal`'s use of `key` for `orderId`, unless it used the key before: false then
    /// (on PostgreSQL after a concurrent first use committed; if that one rolls back, this one
    /// claims the key). One statement where a lookup and an insert would be two.
    static func claim(principal: String, key: String, fingerprint: String, orderId: String, on connection: any SQLConnection) throws -> Bool {
        try connection.execute("""
            INSERT INTO idempotency_keys (principal, idempotency_key, request_fingerprint, order_id, created_at_ms)
            VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """, [.text(principal), .text(key), .text(fingerprint), .text(orderId), .integer(EventEnvelope.nowUnixMs())]) == 1
    }

    /// Deletes keys created before `retention` ago, in chunks; returns how many.
    static func prune(olderThan retention: Duration, in database: any SQLDatabase) async throws -> Int {
        let cutoff = EventEnvelope.nowUnixMs() - Int64(retention.components.seconds) * 1000
        var total = 0
        while true {
            let deleted = try await database.write { connection in
                try connection.execute("""
                    DELETE FROM idempotency_keys WHERE (principal, idempotency_key) IN (
                        SELECT principal, idempotency_key FROM idempotency_keys WHERE created_at_ms < ? LIMIT 5000)
                    """, [.integer(cutoff)])
            }
            total += deleted
            if deleted < 5000 { return total }
        }
    }
}
