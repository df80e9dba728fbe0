import Foundation

/// Rows per table of the database's own schema, from each backend's catalog. PostgreSQL's
/// figure is its statistics' live-row estimate (no scan); SQLite counts (one index scan per table).
public enum TableSizes {
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
