import Foundation
import GRDB
import Locking
import Logging

/// SQLite backend over GRDB: one file per service, WAL journal.
///
/// A `DatabasePool` rather than a `DatabaseQueue`: with WAL, readers (relay polls, lag
/// metrics, HTTP queries) run on their own connections, concurrently with the single writer
/// and without blocking it. Writes are serialised in-process by GRDB's writer queue, and
/// across processes by SQLite's write lock, which every write transaction takes up front
/// (`BEGIN IMMEDIATE`) so it never fails half-way on a lock upgrade.
///
/// In place when nothing waits, on GRDB's queues otherwise: a transaction runs on the caller's
/// thread (GRDB's synchronous API; Dispatch runs a `sync` on an idle queue inline) when no other
/// transaction of this process holds or waits for the writer, or for a reader connection, and
/// is handed to GRDB's dispatch queue otherwise, so a transaction that would wait never parks
/// one of Swift's few cooperative threads. (`ConnectionGate` counts both kinds of users. Always
/// in place parks the pool under load; always handed over costs two thread hand-offs per
/// transaction: deploy/bench/results/2026-12-05-cost-per-order.md.) Another process holding SQLite's write lock still
/// makes an in-place writer wait, up to `busyTimeout`, on its thread.
///
/// Durability: `synchronous=NORMAL` (the default here) with WAL never corrupts the database
/// and keeps every committed transaction across a process crash (kill -9), but a power loss
/// or OS crash may lose the last transactions before a checkpoint. `.full` syncs the WAL on
/// every commit: survives OS crashes, costs an fsync per transaction.
public final class SQLiteDatabase: SQLDatabase {
    public enum Synchronous: String, Sendable {
        case off = "OFF", normal = "NORMAL", full = "FULL"
    }

    public struct Configuration: Sendable {
        public var path: String
        public var synchronous: Synchronous = .normal
        /// How long a transaction waits for another process's lock before failing with
        /// `SQLError.transient`.
        public var busyTimeout: Duration = .seconds(5)
        /// Concurrent read transactions.
        public var maximumReaderCount: Int = 4

        public init(path: String) {
            self.path = path
        }
    }

    public let dialect: SQLDialect = .sqlite
    public let configuration: Configuration
    private let pool: DatabasePool
    /// This database's clock: the monotonic clock plus this boot's anchor (`SQLiteClock`).
    let clock: SQLiteClock
    private let logger: Logger
    private let state = Protected(State())
    private let writerGate = ConnectionGate(connections: 1)
    private let readerGate: ConnectionGate

    private struct State {
        var closed = false
        var deleteOnClose: URL?
    }

    public var path: String { configuration.path }

    /// Write transactions of this process running or waiting for the writer.
    var writersWaitingOrRunning: Int { writerGate.inUse }

    public init(configuration: Configuration, logger: Logger = Logger(label: "persistence.sqlite")) throws {
        self.configuration = configuration
        self.logger = logger
        let directory = URL(fileURLWithPath: configuration.path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw SQLError.configuration("cannot create directory \(directory.path) for SQLite database \(configuration.path): \(error); set DATABASE_URL to a writable location")
        }

        readerGate = ConnectionGate(connections: configuration.maximumReaderCount)
        var config = Configuration.grdb(configuration)
        config.label = URL(fileURLWithPath: configuration.path).lastPathComponent
        do {
            pool = try DatabasePool(path: configuration.path, configuration: config)
            // After opening, because GRDB's WAL setup resets the writer to NORMAL. Only the
            // writer commits, so only its setting matters.
            let synchronous = configuration.synchronous.rawValue
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = \(synchronous)") }
            clock = try pool.write { try SQLiteClock.anchored(in: $0) }
            // The service's data is its own: the file and its WAL files (made now, in WAL mode)
            // readable by this user only, whatever umask created them or an older version left.
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: configuration.path + suffix) {
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: configuration.path + suffix)
            }
        } catch {
            throw SQLError.configuration("cannot open SQLite database at \(configuration.path): \(Self.mapError(error)); check the path and permissions, or set DATABASE_URL")
        }
    }

    /// A database in a fresh temporary directory, deleted on `close()`. Same code path as a
    /// real file (WAL needs one, so there is no in-memory pool).
    public static func temporary(synchronous: Synchronous = .off, busyTimeout: Duration = .seconds(5),
                                 logger: Logger = Logger(label: "persistence.sqlite")) throws -> SQLiteDatabase {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("persistence-\(UUID().uuidString)", isDirectory: true)
        var configuration = Configuration(path: directory.appendingPathComponent("db.sqlite").path)
        configuration.synchronous = synchronous
        configuration.busyTimeout = busyTimeout
        let database = try SQLiteDatabase(configuration: configuration, logger: logger)
        database.state.update { $0.deleteOnClose = directory }
        return database
    }

    public func migrate(_ migrations: [Migration]) async throws {
        // BEGIN IMMEDIATE already serialises migrating processes; no extra lock needed.
        try await MigrationRunner.run(
            migrations, on: self, lockStatements: [],
            createTable: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    id TEXT PRIMARY KEY,
                    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                )
                """,
            logger: logger)
    }

    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try checkOpen()
        let clock = self.clock
        let transaction: @Sendable (Database) throws -> T = { db in
            var result: T?
            try db.inTransaction(.immediate) {
                let connection = SQLiteConnection(db, clock: clock)
                defer { connection.invalidate() }
                result = try body(connection)
                return .commit
            }
            return result!
        }
        do {
            return try await writerGate.run(inPlace: { try writeInPlace(transaction) },
                                            queued: { try await pool.writeWithoutTransaction(transaction) })
        } catch {
            throw mapClosed(error)
        }
    }

    // Synchronous on purpose (the gate saw the connection free): not callable as the async overload.
    private func writeInPlace<T>(_ transaction: (Database) throws -> T) throws -> T {
        try pool.writeWithoutTransaction(transaction)
    }

    private func readInPlace<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    @discardableResult
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try checkOpen()
        let clock = self.clock
        let read: @Sendable (Database) throws -> T = { db in
            let connection = SQLiteConnection(db, clock: clock)
            defer { connection.invalidate() }
            return try body(connection)
        }
        do {
            // Either way GRDB runs it in a DEFERRED transaction on a reader connection: one WAL snapshot.
            return try await readerGate.run(inPlace: { try readInPlace(read) }, queued: { try await pool.read(read) })
        } catch {
            throw mapClosed(error)
        }
    }

    @discardableResult
    public func oneStatement<T: Sendable>(readOnly: Bool, _ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        readOnly ? try await read(body) : try await write(body)
    }

    /// Nothing to reclaim: a delete removes the row's entries from SQLite's b-trees.
    @discardableResult
    public func vacuum(table: String) async throws -> Bool { false }

    public func close() async {
        let deleteDirectory: URL?? = state.update { state in
            guard !state.closed else { return nil }
            state.closed = true
            return .some(state.deleteOnClose)
        }
        guard let deleteDirectory else { return }
        // DatabasePool.close() waits for running transactions: keep it off the cooperative pool.
        let pool = self.pool
        let logger = self.logger
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                do {
                    try pool.close()
                } catch {
                    logger.warning("closing SQLite database failed", metadata: ["error": "\(error)"])
                }
                if let deleteDirectory { try? FileManager.default.removeItem(at: deleteDirectory) }
                continuation.resume()
            }
        }
    }

    private func checkOpen() throws {
        if state.update({ $0.closed }) { throw closedError }
    }

    private var closedError: SQLError {
        .configuration("SQLite database \(configuration.path) is closed")
    }

    private func mapClosed(_ error: any Error) -> any Error {
        let mapped = Self.mapError(error)
        if case SQLError.configuration = mapped, state.update({ $0.closed }) { return closedError }
        return mapped
    }

    /// Classifies an SQLite result code (primary or extended):
    ///
    /// - transient, worth retrying the transaction: BUSY and LOCKED (another connection holds the
    ///   lock), FULL (the disk is full: freeing space fixes it, and the messaging runtime must not
    ///   dead-letter a message for it), IOERR with all its extended codes (a failing or
    ///   disappearing disk, a full disk seen by the VFS), NOMEM, INTERRUPT and PROTOCOL (a WAL
    ///   lock race between processes);
    /// - configuration: CANTOPEN, NOTADB, MISUSE, AUTH, PERM;
    /// - permanent, the same statement fails again: CONSTRAINT, CORRUPT, READONLY and the rest.
    ///
    /// SQLite rolls the transaction back itself after FULL, IOERR or NOMEM, so the retry starts clean.
    public static func classify(resultCode: Int32, message: String) -> SQLError {
        let primary = resultCode & 0xFF
        let code = primary == resultCode ? "\(resultCode)" : "\(primary), extended \(resultCode)"
        let text = "\(message) (SQLite code \(code))"
        switch primary {
        case 5, 6, 13, 10, 7, 9, 15: // BUSY, LOCKED, FULL, IOERR, NOMEM, INTERRUPT, PROTOCOL
            return .transient(text)
        case 14, 26, 21, 23, 3: // CANTOPEN, NOTADB, MISUSE, AUTH, PERM
            return .configuration(text)
        default:
            return .permanent(text)
        }
    }

    /// GRDB errors become `SQLError`; `SQLError` and errors thrown by caller code pass through.
    static func mapError(_ error: any Error) -> any Error {
        if error is SQLError { return error }
        if let error = error as? DatabaseError {
            var message = error.message ?? "\(error.resultCode)"
            if let sql = error.sql { message += " in: \(sql)" }
            return classify(resultCode: error.extendedResultCode.rawValue, message: message)
        }
        return error
    }
}

extension SQLiteDatabase.Configuration {
    static func grdb(_ configuration: SQLiteDatabase.Configuration) -> GRDB.Configuration {
        var config = GRDB.Configuration()
        config.busyMode = .timeout(configuration.busyTimeout.timeInterval)
        config.maximumReaderCount = max(1, configuration.maximumReaderCount)
        return config
    }
}

/// The connection handed to a transaction body; wraps GRDB's `Database` for that body only.
final class SQLiteConnection: SQLConnection, ScriptExecuting {
    let dialect: SQLDialect = .sqlite
    private let db: Database
    private let clock: SQLiteClock
    private var valid = true

    init(_ db: Database, clock: SQLiteClock) {
        self.db = db
        self.clock = clock
    }

    func databaseTimeMillis() throws -> Int64 {
        try checkValid()
        return clock.nowMillis()
    }

    func invalidate() { valid = false }

    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        try checkValid()
        do {
            let statement = try db.cachedStatement(sql: sql)
            let before = db.totalChangesCount
            try statement.execute(arguments: Self.arguments(binds))
            // changesCount keeps the previous statement's value after DDL or a SELECT.
            return db.totalChangesCount == before ? 0 : db.changesCount
        } catch {
            throw SQLiteDatabase.mapError(error)
        }
    }

    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        try checkValid()
        do {
            let statement = try db.cachedStatement(sql: sql)
            let columns = statement.columnNames
            let cursor = try Row.fetchCursor(statement, arguments: Self.arguments(binds))
            var rows: [SQLRow] = []
            while let row = try cursor.next() {
                var values: [SQLValue] = []
                values.reserveCapacity(columns.count)
                for index in 0..<columns.count {
                    let value: DatabaseValue = row[index]
                    values.append(Self.value(value))
                }
                rows.append(SQLRow(columns: columns, values: values))
            }
            return rows
        } catch {
            throw SQLiteDatabase.mapError(error)
        }
    }

    func executeScript(_ sql: String) throws {
        try checkValid()
        do {
            try db.execute(sql: sql)
        } catch {
            throw SQLiteDatabase.mapError(error)
        }
    }

    private func checkValid() throws {
        guard valid else {
            throw SQLError.configuration("SQLConnection used outside the transaction body that received it")
        }
    }

    /// Built through the existential initialiser on purpose: GRDB's generic one maps with a key
    /// path that the runtime instantiates on every call (a few per cent of a service's CPU under load).
    static func arguments(_ binds: [SQLValue]) -> StatementArguments {
        StatementArguments(binds.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .integer(let v): return v.databaseValue
            case .text(let v): return v.databaseValue
            case .blob(let v): return Data(v).databaseValue
            case .null: return DatabaseValue.null
            }
        })
    }

    static func value(_ value: DatabaseValue) -> SQLValue {
        switch value.storage {
        case .null: return .null
        case .int64(let v): return .integer(v)
        case .string(let v): return .text(v)
        case .blob(let v): return .blob([UInt8](v))
        // The contract has no REAL; render it rather than lose it.
        case .double(let v): return .text(String(v))
        }
    }
}


/// Counts this process's users of a group of connections (the writer, or the readers), those
/// running and those queued: a transaction may run in place only while one is free, so that it
/// cannot wait behind another.
final class ConnectionGate: Sendable {
    private let connections: Int
    private let users = Protected(0)

    init(connections: Int) {
        self.connections = max(1, connections)
    }

    /// Takes a free connection for a transaction in place; false when all are taken or awaited.
    func enterInPlace() -> Bool {
        users.update { users in
            guard users < connections else { return false }
            users += 1
            return true
        }
    }

    /// Counts a transaction handed to GRDB's queue, which may wait there.
    func enter() { users.update { $0 += 1 } }

    func leave() { users.update { $0 -= 1 } }

    /// Runs `inPlace` when a connection is free, else `queued`, counted as a user either way.
    func run<T>(inPlace: () throws -> T, queued: () async throws -> T) async throws -> T {
        if enterInPlace() {
            defer { leave() }
            return try inPlace()
        }
        enter()
        defer { leave() }
        return try await queued()
    }

    var inUse: Int { users.update { $0 } }
}
