import Foundation
import Persistence

/// Which relay may publish a database's outbox: a lease row renewed by its holder.
///
/// Why a lease row and not a session-level advisory lock: the storage contract hands a
/// transaction whatever pooled connection is free, so no connection belongs to the relay for
/// its lifetime, and a session lock would stay with a pooled connection (and die silently with
/// it). The lease uses the database's clock (instances may disagree on time) and is given up
/// explicitly on shutdown, so a restart or a second instance takes over at once; a
/// crashed holder's lease expires after `ttl`.
///
/// Every take-over raises the lease's epoch, and the holder's writes carry the epoch it got: a
/// holder that stalled past `ttl` (SIGSTOP, a long pause) and resumes after another instance
/// took over deletes nothing (`fenceSQL`), and it stops sending once its own monotonic clock
/// says the lease ran out. What it had handed to the producer before the stall may still go
/// out: duplicates, which each relay's per-key order keeps in order and the inboxes drop.
struct RelayLease {
    let database: any SQLDatabase
    let name: String
    let holder: String
    let ttl: Duration

    /// Takes or renews the lease; the epoch this holder has it with for the next `ttl`, or nil
    /// when another holder has it. Expiry is by the database's clock (`databaseTimeMillis`: the
    /// server's on PostgreSQL, where it is part of the statement; the boot-anchored monotonic
    /// clock on SQLite), never by an instance's wall clock, which may be off or jump.
    func acquire() async throws -> Int64? {
        let (name, holder, ttlMs) = (name, holder, ttl.milliseconds)
        return try await database.write { connection in
            switch connection.dialect {
            case .postgres:
                let now = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
                return try connection.query(Self.acquireSQL(now: now, expiry: "\(now) + ?"),
                                            [.text(name), .text(holder), .integer(ttlMs)]).first?.int("epoch")
            case .sqlite:
                let now = try connection.databaseTimeMillis()
                return try connection.query(Self.acquireSQL(now: "?", expiry: "?"),
                                            [.text(name), .text(holder), .integer(now + ttlMs), .integer(now)]).first?.int("epoch")
            }
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

    /// A condition for a relay write: true only while this holder has the lease with `epoch`
    /// (binds: name, holder, epoch). A release (expiry 0) keeps holder and epoch until another
    /// instance takes over, so an orderly shutdown still deletes what it published.
    static let fenceSQL = "EXISTS (SELECT 1 FROM outbox_relay_lease WHERE name = ? AND holder = ? AND epoch = ?)"

    func fenceBinds(epoch: Int64) -> [SQLValue] { [.text(name), .text(holder), .integer(epoch)] }

    /// Gives the lease up (if held) so another instance can take over without waiting.
    func release() async throws {
        let (name, holder) = (name, holder)
        try await database.write { connection in
            try connection.execute("UPDATE outbox_relay_lease SET expires_at_ms = 0 WHERE name = ? AND holder = ?",
                                   [.text(name), .text(holder)])
        }
    }
}
