import Foundation

/// A value behind a lock. Foundation's NSLock keeps this portable to the package's macOS 14
/// floor (Synchronization.Mutex needs macOS 15).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

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
