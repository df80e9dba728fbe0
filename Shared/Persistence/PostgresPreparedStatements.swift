import PostgresNIO

/// The named prepared statements of one connection, so that the server parses and plans a
/// statement the services run over and over once per connection instead of on every execution.
///
/// postgres-nio 1.33 prepares a statement of any text only through `PreparedQuery`, which returns
/// rows but no command tag. So:
/// - a statement whose affected-row count is asked for (`execute`) is prepared only when it is an
///   INSERT, UPDATE or DELETE without a RETURNING clause, with `RETURNING 1` appended: the rows
///   returned are the rows affected;
/// - parameter types are fixed when a statement is prepared, and the server would infer them
///   from the text (an `INTEGER` column makes `$1` an int4, which an int8 bind does not fit), so
///   the prepared text casts each placeholder to the type of its bind (`$1::int8`, `::text`,
///   `::bytea`; a NULL bind stays uncast and inferred), which is what an unnamed statement
///   declares for its binds. The cache key holds the bind types: the same text with other
///   types is another statement.
///
/// A statement is prepared on its second use (one-off texts are not worth a round trip), never
/// when it looks rows up by a list of keys (`IN (?, ?, …)`, see `looksUpAListOfKeys`), only
/// with at most `maxPlaceholders` binds (a large multi-row statement spreads its parse over its
/// rows, and its text changes with the row count), and only while the connection holds fewer
/// than `capacity`; everything else goes unnamed, as before. The cache lives and dies with its
/// connection (`PGSession`).
final class PreparedStatements {
    static let maxPlaceholders = 64
    /// Texts whose uses are counted before the counts start over.
    static let maxCounted = 1024

    struct Key: Hashable {
        /// The statement as the store wrote it, with `?` placeholders.
        let sql: String
        /// Two bits per bind: integer, text, blob or null.
        let kinds: BindKinds
        /// `RETURNING 1` appended, so that the affected rows come back as rows.
        let countsRows: Bool
    }

    struct BindKinds: Hashable {
        private var low: UInt64 = 0
        private var high: UInt64 = 0
        private let count: Int
        /// The cast each kind gets in the prepared text; NULL stays uncast, inferred by the server.
        private static let casts = ["::int8", "::text", "::bytea", ""]

        /// nil beyond `maxPlaceholders` binds.
        init?(_ binds: [SQLValue]) {
            guard binds.count <= PreparedStatements.maxPlaceholders else { return nil }
            count = binds.count
            for (index, value) in binds.enumerated() {
                let kind: UInt64
                switch value {
                case .integer: kind = 0
                case .text: kind = 1
                case .blob: kind = 2
                case .null: kind = 3
                }
                if index < 32 { low |= kind << UInt64(index * 2) } else { high |= kind << UInt64((index - 32) * 2) }
            }
        }

        /// One cast per placeholder, in order.
        var casts: [String] {
            (0..<count).map { index in
                let bits = index < 32 ? low >> UInt64(index * 2) : high >> UInt64((index - 32) * 2)
                return Self.casts[Int(bits & 3)]
            }
        }
    }

    let capacity: Int
    private var statements: [Key: PreparedQuery] = [:]
    private var uses: [Key: Int] = [:]

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The prepared statement for `key`, preparing it with `prepare` when it has earned it; nil
    /// when it runs unnamed.
    func statement(for key: Key, prepare: (String) throws -> PreparedQuery) throws -> PreparedQuery? {
        if let known = statements[key] { return known }
        guard statements.count < capacity else { return nil }
        let seen = uses[key, default: 0] + 1
        guard seen >= 2 else {
            if uses.count >= Self.maxCounted { uses.removeAll(keepingCapacity: true) }
            uses[key] = seen
            return nil
        }
        uses[key] = nil
        let made = try prepare(Self.preparedText(key))
        statements[key] = made
        return made
    }

    /// The text the server prepares: placeholders numbered and cast, `RETURNING 1` if counted.
    static func preparedText(_ key: Key) -> String {
        let text = PostgresPlaceholders.rewrite(key.sql, casts: key.kinds.casts).sql
        return key.countsRows ? text + " RETURNING 1" : text
    }

    /// Whether `RETURNING 1` can count the rows `sql` affects: a single INSERT, UPDATE or DELETE
    /// that returns nothing itself and ends in no comment or semicolon the clause would fall into.
    static func canCountRows(_ sql: String) -> Bool {
        let text = Array(sql.utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\t") }.prefix(7))
        guard text.count == 7, text[6] == UInt8(ascii: " ") || text[6] == UInt8(ascii: "\n") else { return false }
        let verb = String(decoding: text[0..<6], as: UTF8.self).uppercased()
        guard verb == "INSERT" || verb == "UPDATE" || verb == "DELETE" else { return false }
        return !sql.uppercased().contains("RETURNING") && !sql.contains("--") && !sql.contains(";")
    }

    /// Whether `sql` compares with a list of two or more placeholders (`IN (?, ?)`, `IN ((?, ?), (?, ?))`).
    /// Such a statement is not prepared. Its best plan depends on the table's size: a scan of the
    /// whole table while the table is a few pages, the index after. A prepared statement keeps
    /// the generic plan it settles on after its first executions until the table is next
    /// analyzed, so one prepared on a fresh database went on scanning the grown table whole for
    /// every batch until autovacuum's first ANALYZE. Unnamed, it is planned with the table's
    /// current size each time. Its text also changes with the list's length, so each length
    /// would take a slot of the cache.
    static func looksUpAListOfKeys(_ sql: String) -> Bool {
        let text = Array(sql.utf8)
        var index = 0
        while index + 3 < text.count {
            defer { index += 1 }
            // " IN" then "(" (spaces allowed), any case.
            guard text[index] == UInt8(ascii: " "), text[index + 1] | 0x20 == UInt8(ascii: "i"),
                  text[index + 2] | 0x20 == UInt8(ascii: "n") else { continue }
            var cursor = index + 3
            while cursor < text.count, text[cursor] == UInt8(ascii: " ") || text[cursor] == UInt8(ascii: "\n") { cursor += 1 }
            guard cursor < text.count, text[cursor] == UInt8(ascii: "(") else { continue }
            var depth = 0
            var placeholders = 0
            while cursor < text.count {
                switch text[cursor] {
                case UInt8(ascii: "("): depth += 1
                case UInt8(ascii: ")"): depth -= 1
                case UInt8(ascii: "?"): placeholders += 1
                default: break
                }
                if depth == 0 { break }
                cursor += 1
            }
            if placeholders >= 2 { return true }
        }
        return false
    }

    /// A bind as the legacy prepared-statement API takes it; binary, as unnamed statements send it.
    static func data(_ value: SQLValue) -> PostgresData {
        switch value {
        case .integer(let v): return PostgresData(int64: v)
        case .text(let v): return PostgresData(string: v)
        case .blob(let v): return PostgresData(type: .bytea, value: ByteBuffer(bytes: v))
        case .null: return .null
        }
    }
}
