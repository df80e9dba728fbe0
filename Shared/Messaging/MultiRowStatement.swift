import Foundation
import Locking
import Persistence

/// Builds multi-row statements (`INSERT ... VALUES (...), (...)`) for batches.
///
/// SQLite: rows are cut into chunks whose sizes are powers of two (at most `maxRows`), so a batch
/// of any size uses a handful of distinct SQL strings that the prepared-statement cache keeps.
/// PostgreSQL: chunks of up to `maxRows`, since every statement is a round trip to the server.
public struct MultiRowStatement: Sendable {
    /// Text before `VALUES`, e.g. `INSERT INTO inbox (a, b)`.
    let prefix: String
    /// Text after the value list, e.g. `ON CONFLICT DO NOTHING RETURNING event_id`.
    let suffix: String
    let columns: Int
    let maxRows: Int
    /// SQL text per row count, built once per statement.
    private let texts = Protected<[Int: String]>([:])

    public init(_ prefix: String, columns: Int, suffix: String = "", maxRows: Int = 256) {
        precondition(maxRows > 0 && maxRows & (maxRows - 1) == 0, "maxRows must be a power of two")
        self.prefix = prefix
        self.suffix = suffix
        self.columns = columns
        self.maxRows = maxRows
    }

    /// Whether `other` is this statement (the same text around its value list).
    func hasText(of other: MultiRowStatement) -> Bool {
        prefix == other.prefix && suffix == other.suffix
    }

    func text(rows: Int) -> String {
        texts.update { texts in
            if let known = texts[rows] { return known }
            let made = sql(rows: rows)
            texts[rows] = made
            return made
        }
    }

    /// Chunk sizes for `count` rows.
    func chunks(_ count: Int, dialect: SQLDialect) -> [Int] {
        var left = count
        var sizes: [Int] = []
        while left > 0 {
            var size = maxRows
            if dialect == .postgres {
                size = min(left, maxRows)
            } else {
                while size > left { size >>= 1 }
            }
            sizes.append(size)
            left -= size
        }
        return sizes
    }

    func sql(rows: Int) -> String {
        let tuple = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return prefix + " VALUES " + Array(repeating: tuple, count: rows).joined(separator: ", ")
            + (suffix.isEmpty ? "" : " " + suffix)
    }

    /// Runs the statement over `rows` (each `columns` values long); returns the rows changed.
    @discardableResult
    public func execute(_ rows: [[SQLValue]], on connection: any SQLConnection) throws -> Int {
        var changed = 0
        try forEachChunk(rows, on: connection) { sql, binds in changed += try connection.execute(sql, binds) }
        return changed
    }

    /// Runs the statement over `rows` without waiting for the outcome (`SQLConnection.executePipelined`).
    public func executePipelined(_ rows: [[SQLValue]], on connection: any SQLConnection) throws {
        try forEachChunk(rows, on: connection) { sql, binds in try connection.executePipelined(sql, binds) }
    }

    /// Runs the statement (with a RETURNING suffix) and collects every returned row.
    public func query(_ rows: [[SQLValue]], on connection: any SQLConnection) throws -> [SQLRow] {
        var result: [SQLRow] = []
        try forEachChunk(rows, on: connection) { sql, binds in result += try connection.query(sql, binds) }
        return result
    }

    private func forEachChunk(_ rows: [[SQLValue]], on connection: any SQLConnection,
                              _ body: (String, [SQLValue]) throws -> Void) throws {
        var start = 0
        for size in chunks(rows.count, dialect: connection.dialect) {
            var binds: [SQLValue] = []
            binds.reserveCapacity(size * columns)
            for row in rows[start..<start + size] {
                assert(row.count == columns)
                binds.append(contentsOf: row)
            }
            try body(text(rows: size), binds)
            start += size
        }
    }

}

/// `... WHERE column IN (?, ?, ...)` over many values, chunked like `MultiRowStatement`, in
/// value order (sorted values give chunks in order too). `leading` binds go before the list
/// (placeholders in `prefix`); `suffix` follows the list (e.g. `ORDER BY sku FOR UPDATE`).
public struct InListStatement: Sendable {
    let prefix: String
    let suffix: String
    let maxValues: Int
    private let texts = Protected<[Int: String]>([:])

    public init(_ prefix: String, suffix: String = "", maxValues: Int = 256) {
        self.prefix = prefix
        self.suffix = suffix
        self.maxValues = maxValues
    }

    @discardableResult
    public func execute(_ values: [SQLValue], leading: [SQLValue] = [], on connection: any SQLConnection) throws -> Int {
        var changed = 0
        try forEachChunk(values, on: connection) { sql, chunk in changed += try connection.execute(sql, leading + chunk) }
        return changed
    }

    public func executePipelined(_ values: [SQLValue], leading: [SQLValue] = [], on connection: any SQLConnection) throws {
        try forEachChunk(values, on: connection) { sql, chunk in try connection.executePipelined(sql, leading + chunk) }
    }

    public func query(_ values: [SQLValue], leading: [SQLValue] = [], on connection: any SQLConnection) throws -> [SQLRow] {
        var rows: [SQLRow] = []
        try forEachChunk(values, on: connection) { sql, chunk in rows += try connection.query(sql, leading + chunk) }
        return rows
    }

    /// The rows for `keys` (each key once, in order), decoded and by `key`: what a batch reads in
    /// one statement instead of a statement per row.
    public func fetch<Row: RowDecodable>(_ type: Row.Type, _ keys: [String], key: (Row) -> String,
                                         on connection: any SQLConnection) throws -> [String: Row] {
        guard !keys.isEmpty else { return [:] }
        var rows: [String: Row] = [:]
        for row in try query(Array(Set(keys)).sorted().map { .text($0) }, on: connection) {
            let decoded = try Row(row: row)
            rows[key(decoded)] = decoded
        }
        return rows
    }

    private func forEachChunk(_ values: [SQLValue], on connection: any SQLConnection,
                              _ body: (String, [SQLValue]) throws -> Void) throws {
        let shape = MultiRowStatement(prefix, columns: 1, maxRows: maxValues)
        var start = 0
        for size in shape.chunks(values.count, dialect: connection.dialect) {
            let sql = texts.update { texts in
                if let known = texts[size] { return known }
                let made = prefix + " (" + Array(repeating: "?", count: size).joined(separator: ", ") + ")"
                    + (suffix.isEmpty ? "" : " " + suffix)
                texts[size] = made
                return made
            }
            try body(sql, Array(values[start..<start + size]))
            start += size
        }
    }
}
