import Foundation

extension SQLConnection {
    /// Now, in milliseconds since the Unix epoch, by the database's clock: PostgreSQL's on
    /// PostgreSQL (one clock for every instance sharing the database, whatever their own clocks
    /// say), the process's on SQLite (one process per file: its clock is the database's).
    ///
    /// For decisions that compare times written by different instances (deadlines, claims,
    /// leases); wall-clock times that are only data (produced-at, history) need not come from here.
    public func databaseTimeMillis() throws -> Int64 {
        switch dialect {
        case .postgres:
            guard let now = try query("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now", []).first?.int("now") else {
                throw SQLError.permanent("the database returned no time")
            }
            return now
        case .sqlite:
            var time = timespec()
            clock_gettime(CLOCK_REALTIME, &time)
            return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
        }
    }
}
