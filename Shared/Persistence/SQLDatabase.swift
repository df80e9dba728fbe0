/// The storage contract every service and the messaging runtime are written against.
///
/// Two real backends implement it: SQLite through GRDB (the embedded default, one file per
/// service, WAL) and PostgreSQL through postgres-nio (compose stack, several instances of a
/// service). Transaction bodies are synchronous and run on a thread the backend owns, never on
/// Swift's cooperative pool: domain rules are plain code, and SQLite's fastest path (one
/// writer, prepared statements) needs no hop per statement.
///
/// SQL uses `?` placeholders on both backends (PostgreSQL's `$n` is produced by the backend)
/// and the subset both dialects share: `INSERT ... ON CONFLICT ... DO UPDATE/NOTHING`,
/// `RETURNING`, `BIGINT`/`TEXT`. Where they differ (auto-increment keys, BLOB vs BYTEA),
/// migrations carry one statement per dialect.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }

    /// Applies the migrations not applied yet, in order, each in its own transaction, and
    /// records them (table `schema_migrations`, keyed by `Migration.id`). Safe to call from
    /// several processes at once (PostgreSQL: serialised by an advisory lock).
    func migrate(_ migrations: [Migration]) async throws

    /// Runs `body` in one read-write transaction and commits it; a throw rolls it back.
    /// Transient failures (SQLite busy, PostgreSQL serialization failure or deadlock, lost
    /// connection) surface as `SQLError.transient` so callers can retry the whole body.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T

    /// Runs `body` against a consistent snapshot, without blocking writers where the backend allows.
    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T

    /// Runs `body`, which sends one statement, as a transaction of its own. PostgreSQL sends the
    /// statement without BEGIN and COMMIT, one round trip instead of three (a single statement is
    /// atomic and sees one snapshot anyway); a second statement fails as a programming error.
    /// SQLite, in process, has no round trip to save: it runs `body` as `read` or `write` does, so
    /// a body may branch on the dialect and take more than one statement there.
    @discardableResult
    func oneStatement<T: Sendable>(readOnly: Bool, _ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T

    /// Reclaims what deleted rows of `table` (a plain identifier) leave behind, outside any
    /// transaction, for a table whose rows are deleted as fast as they are written (a queue such
    /// as the outbox). PostgreSQL: `VACUUM`; its deleted rows stay in the indexes until vacuumed,
    /// and every index scan from the low end walks them. SQLite: nothing to do, a delete takes
    /// the entry out of its b-tree. Returns whether the backend had anything to do.
    @discardableResult
    func vacuum(table: String) async throws -> Bool

    /// Closes connections; later calls fail.
    func close() async
}

public enum SQLDialect: String, Sendable {
    case sqlite, postgres
}

/// A connection inside a transaction. Valid only during the `write`/`read` body that handed it out.
public protocol SQLConnection {
    var dialect: SQLDialect { get }
    /// Runs a statement; returns the number of rows it changed.
    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int
    /// Runs a query and returns every row.
    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow]
    /// Runs a statement whose outcome the body does not need. PostgreSQL sends it without
    /// waiting for the reply, so it shares a round trip with the next statement or the COMMIT;
    /// its error surfaces there (the transaction fails, as it would have). SQLite runs it at once.
    func executePipelined(_ sql: String, _ binds: [SQLValue]) throws
    /// Now, in milliseconds since the Unix epoch, by the database's clock (see `DatabaseClock.swift`).
    func databaseTimeMillis() throws -> Int64
}

extension SQLConnection {
    @discardableResult
    public func execute(_ sql: String, _ binds: SQLValue...) throws -> Int { try execute(sql, binds) }
    public func query(_ sql: String, _ binds: SQLValue...) throws -> [SQLRow] { try query(sql, binds) }
    /// Backends without pipelining run the statement at once.
    public func executePipelined(_ sql: String, _ binds: [SQLValue]) throws { try execute(sql, binds) }
}

public enum SQLValue: Sendable, Hashable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null
}

extension SQLValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .text(value) }
}

/// One result row; columns by name (as the query spells them) and by position.
public struct SQLRow: Sendable {
    public let columns: [String]
    public let values: [SQLValue]

    public init(columns: [String], values: [SQLValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(_ name: String) -> SQLValue {
        guard let index = columns.firstIndex(of: name) else { return .null }
        return values[index]
    }

    public func int(_ name: String) -> Int64? {
        if case .integer(let value) = self[name] { return value }
        return nil
    }

    public func string(_ name: String) -> String? {
        if case .text(let value) = self[name] { return value }
        return nil
    }

    public func bytes(_ name: String) -> [UInt8]? {
        if case .blob(let value) = self[name] { return value }
        return nil
    }
}

/// A schema change, applied once. Give both dialects unless the SQL is identical.
public struct Migration: Sendable {
    public let id: String
    public let sqlite: [String]
    public let postgres: [String]

    public init(id: String, sqlite: [String], postgres: [String]) {
        self.id = id
        self.sqlite = sqlite
        self.postgres = postgres
    }

    public init(id: String, both statements: [String]) {
        self.init(id: id, sqlite: statements, postgres: statements)
    }

    public func statements(for dialect: SQLDialect) -> [String] {
        dialect == .sqlite ? sqlite : postgres
    }
}

public enum SQLError: Error, CustomStringConvertible, Sendable {
    /// Worth retrying the whole transaction (busy, serialization failure, deadlock, connection lost).
    case transient(String)
    /// Constraint violations and the like: retrying the same transaction fails the same way.
    case permanent(String)
    /// Misuse or misconfiguration (bad URL, closed database, migration failure).
    case configuration(String)

    public var description: String {
        switch self {
        case .transient(let m): return "transient database error: \(m)"
        case .permanent(let m): return "database error: \(m)"
        case .configuration(let m): return "database configuration error: \(m)"
        }
    }

    public var isTransient: Bool {
        if case .transient = self { return true }
        return false
    }
}
