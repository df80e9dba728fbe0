import Foundation
import GRDB

// The clock a database decides by, for decisions that compare times written at different
/// moments, maybe by different processes (deadlines, claims, leases): `databaseTimeMillis()`.
///
/// PostgreSQL: the server's clock, one for every instance sharing the database whatever their
/// own clocks say (read by a connection at most once a second, counted on from there by the
/// monotonic clock). SQLite: the machine's monotonic clock, anchored to the wall clock once per
/// boot and the anchor kept in the file (`SQLiteClock`), so that a process whose wall clock is
/// minutes off, or jumps, or a restart, changes nothing: only the first process of a boot reads
/// the wall clock, and every later one (same machine: the file is local) counts from it.
/// Wall-clock times that are only data (produced-at, history) need not come from here.

/// SQLite's clock: CLOCK_MONOTONIC (the same for every process of one boot, and not shifted
/// by a faked or corrected wall clock) plus an offset chosen by the first process of the boot.
struct SQLiteClock: Sendable {
    /// Wall-clock milliseconds minus monotonic milliseconds, as the boot's first opener saw them.
    let offsetMillis: Int64

    func nowMillis() -> Int64 { Self.monotonicMillis() + offsetMillis }

    static func monotonicMillis() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    static func wallMillis() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// This boot's anchor from the file, set now if this is the boot's first opener.
    static func anchored(in db: Database) throws -> SQLiteClock {
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS database_clock (boot_id TEXT PRIMARY KEY, offset_ms INTEGER NOT NULL)")
        let boot = bootId()
        try db.execute(sql: "INSERT INTO database_clock (boot_id, offset_ms) VALUES (?, ?) ON CONFLICT (boot_id) DO NOTHING",
                       arguments: [boot, wallMillis() - monotonicMillis()])
        // Anchors of earlier boots are of no use.
        try db.execute(sql: "DELETE FROM database_clock WHERE boot_id <> ?", arguments: [boot])
        let offset = try Int64.fetchOne(db, sql: "SELECT offset_ms FROM database_clock WHERE boot_id = ?", arguments: [boot]) ?? 0
        return SQLiteClock(offsetMillis: offset)
    }

    /// The kernel's id of this boot; a fixed value where there is none (then every open re-anchors
    /// nothing and keeps the first anchor: monotonic time is not reset without a reboot).
    static func bootId() -> String {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown-boot"
    }
}
