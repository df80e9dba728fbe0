import Persistence

/// The new rows of a consumer batch (an order's first row in a service's table), held back and
/// written together: one multi-row `INSERT … ON CONFLICT DO NOTHING` per table where each event
/// would send its own, round trip and all.
///
/// A queued row is written before anything else of the transaction could see it missing: at the
/// end of the transaction, or earlier, just before the first statement that names its table (a
/// later event of the batch reading or updating the row finds it there). The queue is the unit
/// of work's connection, so every statement of the handlers passes through it.
///
/// Queuing answers "written" before the row is: the decision was made on the row's absence, and
/// the INSERT must then insert every row. When it does not (another writer inserted one first) or
/// fails, `NewRowsFailed` is thrown and the batch is replayed with its new rows written one at a
/// time, in place: each conditional write sees its own outcome again, a lost race is decided
/// again and an error is its own event's (see `BatchProcessor.commit`).
final class NewRowQueue: SQLConnection {
    private let base: any SQLConnection
    private var queued: [(table: [UInt8], statement: MultiRowStatement, rows: [[SQLValue]])] = []

    init(_ base: any SQLConnection) {
        self.base = base
    }

    var dialect: SQLDialect { base.dialect }

    /// Queues `row` of `statement`, a new row of `table`, for the next write of `table`'s rows.
    func queue(_ row: [SQLValue], with statement: MultiRowStatement, into table: String) {
        if let index = queued.firstIndex(where: { $0.statement.hasText(of: statement) }) {
            queued[index].rows.append(row)
        } else {
            queued.append((Array(table.utf8), statement, [row]))
        }
    }

    /// Writes every queued row (the end of the transaction).
    func writeAll() throws {
        let entries = queued
        queued.removeAll()
        for entry in entries { try write(entry) }
    }

    func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        try writeRows(namedIn: sql)
        return try base.execute(sql, binds)
    }

    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        try writeRows(namedIn: sql)
        return try base.query(sql, binds)
    }

    func executePipelined(_ sql: String, _ binds: [SQLValue]) throws {
        try writeRows(namedIn: sql)
        try base.executePipelined(sql, binds)
    }

    func databaseTimeMillis() throws -> Int64 { try base.databaseTimeMillis() }

    /// Writes the queued rows of every table `sql` names, before `sql` runs.
    private func writeRows(namedIn sql: String) throws {
        guard !queued.isEmpty else { return }
        var index = 0
        while index < queued.count {
            if Self.text(sql, contains: queued[index].table) {
                try write(queued.remove(at: index))
            } else {
                index += 1
            }
        }
    }

    private func write(_ entry: (table: [UInt8], statement: MultiRowStatement, rows: [[SQLValue]])) throws {
        let table = String(decoding: entry.table, as: UTF8.self)
        let inserted: Int
        do {
            inserted = try entry.statement.execute(entry.rows, on: base)
        } catch {
            throw NewRowsFailed(reason: "writing \(entry.rows.count) new rows of \(table) failed: \(error)")
        }
        guard inserted == entry.rows.count else {
            throw NewRowsFailed(reason: "\(entry.rows.count - inserted) of \(entry.rows.count) new rows of \(table) were there already (another writer was first)")
        }
    }

    /// Whether `text` contains `word` anywhere: a statement naming a table, or a longer name that
    /// contains it (then the rows are written early, which is harmless).
    static func text(_ text: String, contains word: [UInt8]) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            guard let first = word.first, bytes.count >= word.count else { return false }
            var start = 0
            while start <= bytes.count - word.count {
                if bytes[start] == first {
                    var matched = 1
                    while matched < word.count && bytes[start + matched] == word[matched] { matched += 1 }
                    if matched == word.count { return true }
                }
                start += 1
            }
            return false
        }
    }
}

/// Queued new rows could not all be written (`NewRowQueue`): the batch is replayed with them
/// written in place.
struct NewRowsFailed: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}
