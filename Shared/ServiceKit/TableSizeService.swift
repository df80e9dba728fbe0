import Logging
import Metrics
import Persistence

/// `database_table_rows{table}`: the rows of every table of the service's database, refreshed
/// every `interval`, so a dashboard shows that retention keeps them bounded (inbox, outbox
/// sequences, idempotency keys) and how the business tables grow. PostgreSQL's figure is its
/// statistics' live-row estimate (no scan); SQLite counts (one index scan per table).
func TableSizeService(database: any SQLDatabase, logger: Logger, interval: Duration = .seconds(30)) -> PeriodicService {
    PeriodicService(name: "table sizes", interval: interval, logger: logger) {
        for (table, rows) in try await TableSizes.read(database) {
            Gauge(label: "database_table_rows", dimensions: [("table", table)]).record(rows)
        }
    }
}

public enum TableSizes {
    /// Rows per table of the service's own schema.
    public static func read(_ database: any SQLDatabase) async throws -> [(table: String, rows: Int64)] {
        try await database.read { connection in
            switch connection.dialect {
            case .postgres:
                return try connection.query("""
                    SELECT relname AS name, n_live_tup AS rows FROM pg_stat_user_tables
                    WHERE schemaname = current_schema() ORDER BY relname
                    """, []).compactMap { row in row.string("name").map { ($0, row.int("rows") ?? 0) } }
            case .sqlite:
                let names = try connection.query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name", []
                ).compactMap { $0.string("name") }
                return try names.map { name in
                    let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
                    return (name, try connection.query("SELECT COUNT(*) AS n FROM \(quoted)", []).first?.int("n") ?? 0)
                }
            }
        }
    }
}
