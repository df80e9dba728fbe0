import Foundation
import Locking

/// Implemented by both backends' connections so migrations can run DDL verbatim: no `?`
/// rewriting (a migration may use PostgreSQL's jsonb `?` operator) and, on SQLite, several
/// statements per string.
protocol ScriptExecuting: SQLConnection {
    func executeScript(_ sql: String) throws
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
