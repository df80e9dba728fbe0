import Foundation
import Locking
import Logging
import PostgresNIO

/// PostgreSQL backend over postgres-nio.
///
/// A fixed pool of connections, each owned by one dedicated OS thread. A transaction is a job
/// on a shared queue: whichever worker is free takes it, runs BEGIN, the caller's synchronous
/// body (each statement blocks that worker on a postgres-nio future, which is fine: it is not
/// an event-loop thread and not Swift's cooperative pool), then COMMIT. So at most `poolSize`
/// transactions run at once; the rest wait in the queue in arrival order.
///
/// Isolation: write transactions use READ COMMITTED by default (configurable). Callers resolve
/// races with conditional updates (`UPDATE ... WHERE state = 'PENDING'`, checking the affected
/// row count) and `INSERT ... ON CONFLICT`, which READ COMMITTED makes safe without retries:
/// a blocked UPDATE re-checks its WHERE clause against the committed row. `read` runs in
/// REPEATABLE READ, READ ONLY: one snapshot for the whole body.
///
/// Unlike SQLite, a failed statement aborts the PostgreSQL transaction: a body that catches a
/// statement error and carries on gets errors for every later statement, and if it returns
/// normally the COMMIT is rejected with a permanent error.
///
/// A lost connection during COMMIT surfaces as `.transient` although the transaction may have
/// committed: retried bodies must be idempotent (the inbox and conditional updates make them so).
///
/// Where the parts are: `PostgresConfiguration.swift` (what a URL or caller sets),
/// `PostgresConnectionSettings.swift` (how a worker connects: TLS, startup parameters,
/// keepalives), `PostgresWorkerPool.swift` (the job queue and a worker's session),
/// `PostgresTransaction.swift` (BEGIN, body, COMMIT and the round trips they save),
/// `PostgresSQLConnection.swift` (the `SQLConnection` a body gets), `PostgresRowDecoding.swift`
/// (wire values to `SQLValue`), `PostgresErrors.swift` (SQLSTATEs and connect errors to `SQLError`).
///
/// Cancelling the calling task does not interrupt a transaction that has started.
public final class PostgresDatabase: SQLDatabase {
    public let dialect: SQLDialect = .postgres
    public let configuration: Configuration
    private let logger: Logger
    private let queue: JobQueue
    private let workers = DispatchGroup()

    /// Opens the pool; every connection is established before this returns so a wrong URL or
    /// an unreachable server fails here, at startup, with a message that says what to fix.
    public static func connect(_ configuration: Configuration,
                               logger: Logger = Logger(label: "persistence.postgres")) async throws -> PostgresDatabase {
        guard configuration.poolSize >= 1 else {
            throw SQLError.configuration("PostgreSQL pool size must be at least 1 (got \(configuration.poolSize))")
        }
        if let problem = configuration.keepalives?.problem {
            throw SQLError.configuration("PostgreSQL \(problem)")
        }
        let settings = try PGSettings(configuration: configuration, logger: logger)
        var connections: [PostgresConnection] = []
        do {
            for _ in 0..<configuration.poolSize {
                connections.append(try await settings.connect().get())
            }
        } catch {
            for connection in connections { try? await connection.close() }
            throw settings.describeConnectError(error)
        }
        return PostgresDatabase(settings: settings, connections: connections)
    }

    private init(settings: PGSettings, connections: [PostgresConnection]) {
        self.configuration = settings.configuration
        self.logger = settings.logger
        let queue = JobQueue()
        self.queue = queue
        for (index, connection) in connections.enumerated() {
            workers.enter()
            startThread(named: "pg-worker-\(index)") { [workers] in
                let session = PGSession(settings: settings, connection: connection)
                while let job = queue.take() {
                    job.run(session)
                }
                session.shutdown()
                workers.leave()
            }
        }
    }

    deinit {
        // Lets the worker threads exit and close their connections if close() was never called.
        for job in queue.close() { job.fail(closedError) }
    }

    private var closedError: SQLError {
        .configuration("PostgreSQL database \(configuration.endpoint) is closed")
    }

    public func migrate(_ migrations: [Migration]) async throws {
        try await MigrationRunner.run(
            migrations, on: self,
            lockStatements: [
                // A migration may rewrite or index a large table: no statement timeout.
                "SET LOCAL statement_timeout = 0",
                // Instances starting together wait for each other's migrations, however long.
                "SET LOCAL lock_timeout = 0",
                // Per schema, so that separate schemas (tests, tenants) migrate independently.
                "SELECT pg_advisory_xact_lock(hashtext('schema_migrations:' || coalesce(current_schema(), '')))",
                // But DDL waiting for a table lock queues all later traffic on that table behind
                // it: it gives up after the usual lock_timeout (the start fails transiently).
                "SET LOCAL lock_timeout = '\(PGSettings.milliseconds(configuration.lockTimeout))'",
            ],
            createTable: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    id TEXT PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """,
            logger: logger)
    }

    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await submit { try $0.transaction(readOnly: false, body) }
    }

    @discardableResult
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await submit { try $0.transaction(readOnly: true, body) }
    }

    /// The statement goes out on its own (autocommit), on a worker's connection like a transaction.
    /// The read-only statement gets no `READ ONLY` guard: `readOnly` only names what the caller means.
    @discardableResult
    public func oneStatement<T: Sendable>(readOnly: Bool, _ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await submit { try $0.statementAlone(body) }
    }

    /// `VACUUM` of `table` on a worker's connection, queued like a transaction but outside one
    /// (VACUUM cannot run in a transaction block). Its index entries are always cleaned (the
    /// point of the call); the emptied end of the table is not truncated, which would take a lock
    /// every writer of the table waits behind, for pages the next inserts take again.
    @discardableResult
    public func vacuum(table: String) async throws -> Bool {
        guard !table.isEmpty, table.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else {
            throw SQLError.configuration("cannot vacuum \(table.debugDescription): not a plain table name")
        }
        let statement = "VACUUM (TRUNCATE false, INDEX_CLEANUP true) \(table)"
        try await submit { try $0.statementAlone { try $0.executeScript(statement) } }
        return true
    }

    /// Waits for running transactions to finish; queued ones fail with a configuration error.
    public func close() async {
        for job in queue.close() { job.fail(closedError) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            workers.notify(queue: .global()) { continuation.resume() }
        }
    }

    /// Queues `work` for the next free worker and waits for its result.
    private func submit<T: Sendable>(_ work: @escaping @Sendable (PGSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { session in continuation.resume(with: Result { try work(session) }) },
                fail: { continuation.resume(throwing: $0) })
            if !queue.submit(job) {
                continuation.resume(throwing: closedError)
            }
        }
    }
}
