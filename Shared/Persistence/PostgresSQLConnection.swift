import Foundation
import PostgresNIO

final class PGConnection: SQLConnection, ScriptExecuting {
    let dialect: SQLDialect = .postgres
    private let session: PGSession
    private let connection: PostgresConnection
    var pendingBegin: EventLoopFuture<PostgresQueryResult>?
    /// Sent by `executePipelined`, replies not looked at yet (in send order).
    private var pipelined: [EventLoopFuture<PostgresQueryResult>] = []
    private(set) var connectionBroken = false
    /// A statement failed (perhaps caught by the body): the transaction must not look committed.
    private(set) var sawFailure = false
    private var valid = true

    init(session: PGSession, connection: PostgresConnection) {
        self.session = session
        self.connection = connection
    }

    func invalidate() { valid = false }

    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        Self.affectedRows(try run(sql, binds, rewrite: true).metadata)
    }

    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        Self.decodeRows(try run(sql, binds, rewrite: true).rows)
    }

    func executeScript(_ sql: String) throws {
        _ = try run(sql, [], rewrite: false)
    }

    func executePipelined(_ sql: String, _ binds: [SQLValue]) throws {
        pipelined.append(try send(sql, binds, rewrite: true))
    }

    /// The server's clock, one for every instance sharing the database.
    func databaseTimeMillis() throws -> Int64 {
        guard let now = try query("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now", []).first?.int("now") else {
            throw SQLError.permanent("the database returned no time")
        }
        return now
    }

    var hasPipelined: Bool { !pipelined.isEmpty }

    /// Checks BEGIN and the pipelined statements, all sent before whatever is waited on now, so
    /// their replies are in. Throws the first failure: the cause, where later statements only
    /// report the aborted transaction.
    func settleEarlierStatements() throws {
        if let begin = pendingBegin {
            pendingBegin = nil
            try wait(begin)
        }
        guard !pipelined.isEmpty else { return }
        let earlier = pipelined
        pipelined.removeAll(keepingCapacity: true)
        for future in earlier { try wait(future) }
    }

    private func run(_ sql: String, _ binds: [SQLValue], rewrite: Bool) throws -> PostgresQueryResult {
        let future = try send(sql, binds, rewrite: rewrite)
        let result = Result { try session.reply(future) }
        try settleEarlierStatements()
        return try result.mapError(failed).get()
    }

    private func wait(_ future: EventLoopFuture<PostgresQueryResult>) throws {
        do { _ = try session.reply(future) } catch { throw failed(error) }
    }

    /// Records a failed statement and maps its error.
    private func failed(_ error: any Error) -> any Error {
        sawFailure = true
        if PostgresDatabase.breaksConnection(error) { connectionBroken = true }
        return PostgresDatabase.mapError(error)
    }

    /// Statements go as unnamed extended-protocol statements (Parse/Bind/Execute in one round
    /// trip, parameters typed int8/text/bytea). Named prepared statements would save the server's
    /// parse/plan, but postgres-nio 1.33 offers them only without the command tag we need for
    /// affected-row counts (`PreparedQuery`, deprecated) or with a static SQL type whose
    /// command-tag variant traps; `EXECUTE name($1)` cannot take bind parameters. What prepared
    /// statements would gain: `deploy/bench/results/2026-11-22-client-design.md`.
    private func send(_ sql: String, _ binds: [SQLValue], rewrite: Bool) throws -> EventLoopFuture<PostgresQueryResult> {
        guard valid else {
            throw SQLError.configuration("SQLConnection used outside the transaction body that received it")
        }
        var text = sql
        if rewrite {
            let rewritten = session.rewritten(sql)
            guard rewritten.placeholderCount == binds.count else {
                throw SQLError.configuration("statement has \(rewritten.placeholderCount) placeholder(s) but \(binds.count) value(s) were bound: \(sql)")
            }
            text = rewritten.sql
        }
        // Explicit parameter types (int8, text, bytea); NULL goes untyped so the server infers it.
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .integer(let v): bindings.append(v)
            case .text(let v): bindings.append(v)
            case .blob(let v): bindings.append(ByteBuffer(bytes: v))
            case .null: bindings.appendNull()
            }
        }
        return connection.query(PostgresQuery(unsafeSQL: text, binds: bindings), logger: session.logger)
    }
}
