import Logging
import Metrics
import Persistence

/// `database_table_rows{table}`: the rows of every table of the service's database, refreshed
/// every `interval`, so a dashboard shows that retention keeps them bounded (inbox, outbox
/// sequences, idempotency keys) and how the business tables grow.
func TableSizeService(database: any SQLDatabase, logger: Logger, interval: Duration = .seconds(30)) -> PeriodicService {
    PeriodicService(name: "table sizes", interval: interval, logger: logger) {
        for (table, rows) in try await TableSizes.read(database) {
            Gauge(label: "database_table_rows", dimensions: [("table", table)]).record(rows)
        }
    }
}
