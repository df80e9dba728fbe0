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
/// took over deletes nothing (`OutboxStore.deletePublished`), and it stops sending once its own monotonic clock
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
        return try await database.write { try OutboxStore.acquireLease(name: name, holder: holder, ttlMs: ttlMs, on: $0) }
    }

    /// Gives the lease up (if held) so another instance can take over without waiting.
    func release() async throws {
        let (name, holder) = (name, holder)
        try await database.write { try OutboxStore.releaseLease(name: name, holder: holder, on: $0) }
    }
}
