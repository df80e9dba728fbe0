import Foundation
import Kafka
import Persistence

/// Every statement on the outbox tables, inside a caller's transaction: `outbox` (written by
/// `UnitOfWork`, read and deleted by `OutboxRelay`), `outbox_sequences` (the last sequence per
/// topic and order) and `outbox_relay_lease` (which relay publishes, `RelayLease`). The callers
/// decide when and in which transaction; the text, chunking and lock order of each statement
/// here is what their guarantees rest on.
public enum OutboxStore {
    // MARK: - outbox rows

    /// A row to write: the record as the relay will send it.
    struct NewRow {
        let topic: String
        let key: [UInt8]?
        let headers: [UInt8]
        let payload: [UInt8]
    }

    private static let insertStatement = MultiRowStatement(
        "INSERT INTO outbox (topic, key, headers, payload, created_at_us)", columns: 5, suffix: "RETURNING id", maxRows: 128)

    /// Writes `rows` in their order (PostgreSQL assigns identity values to a VALUES list in list
    /// order, so rows of one statement keep it); returns their ids.
    static func insert(_ rows: [NewRow], writtenAtMicros: Int64, on connection: any SQLConnection) throws -> [Int64] {
        let writtenAt = SQLValue.integer(writtenAtMicros)
        let values = rows.map { row -> [SQLValue] in
            [.text(row.topic), row.key.map { .blob($0) } ?? .null, .blob(row.headers), .blob(row.payload), writtenAt]
        }
        return try insertStatement.query(values, on: connection).compactMap { $0.int("id") }
    }

    /// One outbox row as a relay scan reads it. The record is decoded on demand, so rows the
    /// scan passes over (in flight, acknowledged) cost no header decoding.
    struct ScannedRow: RowDecodable {
        let id: Int64?
        private let row: SQLRow

        init(row: SQLRow) {
            id = row.int("id")
            self.row = row
        }

        var createdAtMicros: Int64 { row.int("created_at_us") ?? 0 }

        /// The record to send; nil when its topic or headers do not decode.
        func message() -> OutgoingMessage? {
            guard let topic = row.string("topic"), let headerBytes = row.bytes("headers"),
                  let headers = try? HeaderCodec.decode(headerBytes) else { return nil }
            return OutgoingMessage(topic: topic, key: row.bytes("key"), value: row.bytes("payload"), headers: headers)
        }
    }

    /// Up to `limit` rows after id `after`, in id order.
    static func scan(after: Int64, limit: Int, on connection: any SQLConnection) throws -> [ScannedRow] {
        try connection.fetch(ScannedRow.self,
                             "SELECT id, topic, key, headers, payload, created_at_us FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                             [.integer(after), .integer(Int64(limit))])
    }

    private static let deleteStatement = InListStatement("DELETE FROM outbox WHERE \(fenceSQL) AND id IN")

    /// PostgreSQL's delete takes its ids as one text bind, so that every delete is one statement
    /// of one text (one prepared statement), however many rows it names.
    private static let deleteAllStatement = "DELETE FROM outbox WHERE \(fenceSQL) AND id = ANY (string_to_array(?, ',')::bigint[])"

    /// The delete and the next scan page in one PostgreSQL statement. The page reads the snapshot
    /// from before the delete, so it leaves out what the delete returned; the outer join gives one
    /// row (page columns null) when the page is empty, to carry the count.
    private static let deleteThenScanStatement = """
        WITH deleted AS (\(deleteAllStatement) RETURNING id)
        SELECT (SELECT COUNT(*) FROM deleted) AS deleted, page.id, page.topic, page.key, page.headers, page.payload, page.created_at_us
        FROM (SELECT 1) AS one LEFT JOIN (
            SELECT id, topic, key, headers, payload, created_at_us FROM outbox
            WHERE id > ? AND id NOT IN (SELECT id FROM deleted) ORDER BY id LIMIT ?
        ) AS page ON true
        ORDER BY page.id
        """

    /// Deletes published rows, fenced by the lease epoch they were published under: nothing
    /// once `lease`'s holder lost that epoch to another instance. Returns how many it deleted.
    static func deletePublished(_ ids: [Int64], epoch: Int64, lease: RelayLease, on connection: any SQLConnection) throws -> Int {
        try deletePublished(ids, epoch: epoch, lease: lease, thenScanning: nil, on: connection).deleted
    }

    /// The fenced delete, then (when `page` is given) up to `page.limit` rows after `page.after`
    /// that the delete left, in id order. One statement on PostgreSQL, so that it can run outside
    /// a transaction (`SQLDatabase.oneStatement`); two on SQLite.
    static func deletePublished(_ ids: [Int64], epoch: Int64, lease: RelayLease, thenScanning page: (after: Int64, limit: Int)?,
                                on connection: any SQLConnection) throws -> (deleted: Int, page: [ScannedRow]) {
        let sorted = ids.sorted()
        guard connection.dialect == .postgres else {
            let deleted = try deleteStatement.execute(sorted.map { .integer($0) }, leading: fenceBinds(lease, epoch: epoch), on: connection)
            return (deleted, try page.map { try scan(after: $0.after, limit: $0.limit, on: connection) } ?? [])
        }
        let binds = fenceBinds(lease, epoch: epoch) + [.text(sorted.map(String.init).joined(separator: ","))]
        guard let page else { return (try connection.execute(deleteAllStatement, binds), []) }
        let rows = try connection.query(deleteThenScanStatement, binds + [.integer(page.after), .integer(Int64(page.limit))])
        let deleted = Int(rows.first?.int("deleted") ?? 0)
        return (deleted, rows.map(ScannedRow.init(row:)).filter { $0.id != nil })
    }

    /// How many rows wait and when the oldest was written.
    struct Backlog: RowDecodable {
        let waiting: Int64
        let oldestCreatedAtMicros: Int64?

        init(row: SQLRow) {
            waiting = row.int("waiting") ?? 0
            oldestCreatedAtMicros = row.int("oldest")
        }
    }

    static func backlog(on connection: any SQLConnection) throws -> Backlog? {
        try connection.fetchOne(Backlog.self, "SELECT COUNT(*) AS waiting, MIN(created_at_us) AS oldest FROM outbox", [])
    }

    // MARK: - sequences

    private static let nextSequenceSQL = """
        INSERT INTO outbox_sequences (topic, order_id, last_sequence, updated_at_ms) VALUES (?, ?, 1, ?)
        ON CONFLICT (topic, order_id) DO UPDATE
        SET last_sequence = outbox_sequences.last_sequence + 1, updated_at_ms = excluded.updated_at_ms
        RETURNING last_sequence
        """

    /// Takes the next sequence of (topic, order) with an upsert that locks its row until commit
    /// (PostgreSQL), serialising concurrent emitters of the order.
    static func nextSequence(topic: String, orderId: String, on connection: any SQLConnection) throws -> Int64 {
        let rows = try connection.query(nextSequenceSQL, [.text(topic), .text(orderId), .integer(WallClock.nowMillis())])
        guard let sequence = rows.first?.int("last_sequence") else {
            throw SQLError.permanent("outbox sequence upsert returned no row for \(topic)/\(orderId)")
        }
        return sequence
    }

    private static let lockSequencesStatement = MultiRowStatement(
        "INSERT INTO outbox_sequences (topic, order_id, last_sequence, updated_at_ms)", columns: 4,
        suffix: """
            ON CONFLICT (topic, order_id) DO UPDATE SET last_sequence = outbox_sequences.last_sequence
            RETURNING order_id, last_sequence
            """,
        maxRows: 256)

    private static let readSequencesStatement = InListStatement(
        "SELECT order_id, last_sequence FROM outbox_sequences WHERE topic = ? AND order_id IN")

    /// The last sequences of `orderIds` (distinct, sorted: the lock order) on `topic`, their rows
    /// held for this transaction. PostgreSQL: an upsert that locks them, creating missing ones at
    /// 0. SQLite: a plain read; its single writer already excludes every other emitter.
    static func takeSequences(topic: String, orderIds: [String], on connection: any SQLConnection) throws -> [String: Int64] {
        let rows: [SQLRow]
        switch connection.dialect {
        case .postgres:
            let now = SQLValue.integer(WallClock.nowMillis())
            rows = try lockSequencesStatement.query(orderIds.map { [.text(topic), .text($0), .integer(0), now] }, on: connection)
        case .sqlite:
            rows = try readSequencesStatement.query(orderIds.map { .text($0) }, leading: [.text(topic)], on: connection)
        }
        var found: [String: Int64] = [:]
        for row in rows { if let order = row.string("order_id") { found[order] = row.int("last_sequence") } }
        return found
    }

    private static let storeSequencesStatement = MultiRowStatement(
        "INSERT INTO outbox_sequences (topic, order_id, last_sequence, updated_at_ms)", columns: 4,
        suffix: "ON CONFLICT (topic, order_id) DO UPDATE SET last_sequence = excluded.last_sequence, updated_at_ms = excluded.updated_at_ms",
        maxRows: 256)

    /// Writes back sequences advanced in memory, in the given order, pipelined with what follows.
    static func storeSequences(_ sequences: [(topic: String, orderId: String, last: Int64)], on connection: any SQLConnection) throws {
        let now = SQLValue.integer(WallClock.nowMillis())
        try storeSequencesStatement.executePipelined(sequences.map { [.text($0.topic), .text($0.orderId), .integer($0.last), now] },
                                                     on: connection)
    }

    private static let insertSequencesStatement = MultiRowStatement(
        "INSERT INTO outbox_sequences (topic, order_id, last_sequence, updated_at_ms)", columns: 4, maxRows: 128)

    /// New sequence rows, pipelined: one that exists already fails the transaction.
    static func insertSequences(_ sequences: [(topic: String, orderId: String, last: Int64)], on connection: any SQLConnection) throws {
        let now = SQLValue.integer(WallClock.nowMillis())
        try insertSequencesStatement.executePipelined(sequences.map { [.text($0.topic), .text($0.orderId), .integer($0.last), now] },
                                                      on: connection)
    }

    /// Deletes up to `limit` sequence rows last written before `cutoffMs`; returns how many.
    static func pruneSequences(updatedBefore cutoffMs: Int64, limit: Int, on connection: any SQLConnection) throws -> Int {
        try connection.execute("""
            DELETE FROM outbox_sequences WHERE (topic, order_id) IN (
                SELECT topic, order_id FROM outbox_sequences WHERE updated_at_ms < ? LIMIT ?)
            """, [.integer(cutoffMs), .integer(Int64(limit))])
    }

    // MARK: - the relay lease

    /// Takes or renews the lease for `holder` until `ttlMs` from now by the database's clock
    /// (PostgreSQL's, inside the statement; SQLite's boot-anchored monotonic one); the epoch it
    /// holds it with, or nil when another holder's lease has not expired.
    static func acquireLease(name: String, holder: String, ttlMs: Int64, on connection: any SQLConnection) throws -> Int64? {
        switch connection.dialect {
        case .postgres:
            let now = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
            return try connection.query(acquireSQL(now: now, expiry: "\(now) + ?"),
                                        [.text(name), .text(holder), .integer(ttlMs)]).first?.int("epoch")
        case .sqlite:
            let now = try connection.databaseTimeMillis()
            return try connection.query(acquireSQL(now: "?", expiry: "?"),
                                        [.text(name), .text(holder), .integer(now + ttlMs), .integer(now)]).first?.int("epoch")
        }
    }

    private static func acquireSQL(now: String, expiry: String) -> String {
        """
        INSERT INTO outbox_relay_lease (name, holder, epoch, expires_at_ms) VALUES (?, ?, 1, \(expiry))
        ON CONFLICT (name) DO UPDATE SET
            holder = excluded.holder,
            epoch = CASE WHEN outbox_relay_lease.holder = excluded.holder
                         THEN outbox_relay_lease.epoch ELSE outbox_relay_lease.epoch + 1 END,
            expires_at_ms = excluded.expires_at_ms
        WHERE outbox_relay_lease.holder = excluded.holder OR outbox_relay_lease.expires_at_ms < \(now)
        RETURNING epoch
        """
    }

    /// A condition for a relay write: true only while the holder has the lease with the epoch
    /// (binds: `fenceBinds`). A release (expiry 0) keeps holder and epoch until another instance
    /// takes over, so an orderly shutdown still deletes what it published.
    private static let fenceSQL = "EXISTS (SELECT 1 FROM outbox_relay_lease WHERE name = ? AND holder = ? AND epoch = ?)"

    private static func fenceBinds(_ lease: RelayLease, epoch: Int64) -> [SQLValue] {
        [.text(lease.name), .text(lease.holder), .integer(epoch)]
    }

    /// Ends `holder`'s lease now (if it has it), so another instance can take over without waiting.
    static func releaseLease(name: String, holder: String, on connection: any SQLConnection) throws {
        try connection.execute("UPDATE outbox_relay_lease SET expires_at_ms = 0 WHERE name = ? AND holder = ?",
                               [.text(name), .text(holder)])
    }

    /// The lease row as stored, for operators (`GET /relay`).
    public struct Lease: RowDecodable, Sendable {
        public let holder: String
        public let epoch: Int64
        public let expiresAtMs: Int64

        public init(row: SQLRow) throws {
            guard let holder = row.string("holder"), let epoch = row.int("epoch"), let expires = row.int("expires_at_ms") else {
                throw SQLError.permanent("corrupt outbox_relay_lease row: \(row)")
            }
            self.holder = holder
            self.epoch = epoch
            expiresAtMs = expires
        }
    }

    /// The lease `name`; nil when no relay took it yet (or its row does not decode).
    public static func lease(_ name: String, on connection: any SQLConnection) throws -> Lease? {
        guard let row = try connection.query("SELECT holder, epoch, expires_at_ms FROM outbox_relay_lease WHERE name = ?",
                                             [.text(name)]).first else { return nil }
        return try? Lease(row: row)
    }
}
