import Logging
import PostgresNIO

extension PGSession {
    private static let commit = PostgresQuery(unsafeSQL: "COMMIT")
    private static let rollback = PostgresQuery(unsafeSQL: "ROLLBACK")

    /// Runs one transaction on this worker's connection: BEGIN, the body, COMMIT (or ROLLBACK).
    ///
    /// Round trips: BEGIN is sent with the first statement, `executePipelined` statements with the
    /// next statement or the COMMIT, and a read-only transaction does not wait for its COMMIT (the
    /// next transaction on the connection queues behind it). A worker thread waits once per
    /// statement whose result the body needs, plus once for a write's COMMIT. What pipelining a
    /// handler's upsert gained (`messaging-harness bench throughput`): the "messaging runtime
    /// alone" row of `deploy/bench/results/2026-12-05-numbers.md`.
    func transaction<T>(readOnly: Bool, _ body: (SQLConnection) throws -> T) throws -> T {
        let connection = try liveConnection()
        let handle = PGConnection(session: self, connection: connection)
        // Not awaited here: the first statement queues behind BEGIN on the channel, which saves
        // a wake-up of this thread per transaction. Its outcome is checked with that statement.
        handle.pendingBegin = connection.query(
            PostgresQuery(unsafeSQL: readOnly ? settings.readBegin : settings.writeBegin), logger: logger)

        let value: T
        var sentCommit: EventLoopFuture<PostgresQueryResult>?
        do {
            value = try body(handle)
            // COMMIT queues behind the pipelined statements: one round trip for all of them.
            if handle.hasPipelined { sentCommit = connection.query(Self.commit, logger: logger) }
            try handle.settleEarlierStatements()
        } catch {
            handle.invalidate()
            if handle.connectionBroken || connection.isClosed {
                dropConnection()
            } else if let sentCommit {
                // A pipelined statement failed, so the COMMIT behind it answers ROLLBACK.
                do { _ = try reply(sentCommit) } catch { dropConnection() }
            } else {
                do { _ = try reply(connection.query(Self.rollback, logger: logger)) } catch { dropConnection() }
            }
            throw error
        }
        handle.invalidate()

        if readOnly && sentCommit == nil && !handle.sawFailure {
            // Nothing to make durable and nothing that failed: the reply is not waited for. The
            // next transaction on this connection queues behind it; a broken connection shows
            // there.
            connection.query(Self.commit, logger: logger).whenFailure { [logger] error in
                logger.debug("COMMIT of a read-only transaction failed: \(error)")
            }
            return value
        }

        let result: PostgresQueryResult
        do {
            result = try reply(sentCommit ?? connection.query(Self.commit, logger: logger))
        } catch {
            if PostgresDatabase.breaksConnection(error) {
                dropConnection()
                throw SQLError.transient("connection to PostgreSQL lost during COMMIT; the transaction may or may not have committed: \(PostgresDatabase.mapError(error))")
            }
            throw PostgresDatabase.mapError(error)
        }
        // COMMIT of a transaction in the aborted state answers ROLLBACK instead of failing.
        if result.metadata.command == "ROLLBACK" {
            throw SQLError.permanent("transaction rolled back: a statement in it failed and the body carried on; PostgreSQL aborts the whole transaction on the first error")
        }
        return value
    }

    /// Runs `body`'s one statement without BEGIN and COMMIT: the server commits it on its own
    /// (`oneStatement`, and a `VACUUM`, which PostgreSQL refuses inside a transaction block).
    /// A lost connection leaves a write's outcome unknown, as a lost COMMIT does.
    func statementAlone<T>(_ body: (PGConnection) throws -> T) throws -> T {
        let connection = try liveConnection()
        let handle = PGConnection(session: self, connection: connection, statementLimit: 1)
        defer { handle.invalidate() }
        do {
            let value = try body(handle)
            try handle.settleEarlierStatements()
            return value
        } catch {
            if handle.connectionBroken || connection.isClosed { dropConnection() }
            throw error
        }
    }
}
