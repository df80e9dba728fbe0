import Foundation
import PostgresNIO

final class PGConnection: SQLConnection, ScriptExecuting {
    let dialect: SQLDialect = .postgres
    private let session: PGSession
    private let connection: PostgresConnection
    var pendingBegin: EventLoopFuture<PostgresQueryResult>?
    /// Sent by `executePipelined`, replies not looked at yet (in send order).
    private var pipelined: [Pending] = []
    private(set) var connectionBroken = false
    /// A statement failed (perhaps caught by the body): the transaction must not look committed.
    private(set) var sawFailure = false
    private var valid = true
    /// The anchor this transaction's clock reads count from (see `databaseTimeMillis`).
    private var clockAnchor: PGSession.ClockAnchor?

    /// A statement sent, unnamed or prepared (see `PreparedStatements`).
    enum Pending {
        case unnamed(EventLoopFuture<PostgresQueryResult>)
        case prepared(EventLoopFuture<[PostgresRow]>)
    }

    /// What a statement asks of its reply.
    private enum Wanted {
        case rows
        case affectedRows
        case nothing
    }

    /// Statements this handle may still send; nil inside a transaction (no limit).
    private var statementsLeft: Int?

    init(session: PGSession, connection: PostgresConnection, statementLimit: Int? = nil) {
        self.session = session
        self.connection = connection
        statementsLeft = statementLimit
    }

    func invalidate() { valid = false }

    @discardableResult
    func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        switch try run(sql, binds, .affectedRows) {
        case .unnamed(let result): return Self.affectedRows(result.metadata)
        case .prepared(let rows): return rows.count
        }
    }

    func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        switch try run(sql, binds, .rows) {
        case .unnamed(let result): return Self.decodeRows(result.rows)
        case .prepared(let rows): return Self.decodeRows(rows, binaryCells: true)
        }
    }

    func executeScript(_ sql: String) throws {
        _ = try run(sql, [], .nothing, rewrite: false)
    }

    func executePipelined(_ sql: String, _ binds: [SQLValue]) throws {
        pipelined.append(try send(sql, binds, .nothing, rewrite: true))
    }

    /// The server's clock, one for every instance sharing the database, counted on by this
    /// machine's monotonic clock from the connection's last reading of it: a transaction's first
    /// call asks the server only when that reading is `clockRereadAfter` old, and later calls in
    /// the transaction (the POSTs of one group commit, the events of one batch) keep the anchor
    /// the transaction started with.
    func databaseTimeMillis() throws -> Int64 {
        let monotonic = SQLiteClock.monotonicMillis()
        if let anchor = clockAnchor { return anchor.now(monotonic: monotonic) }
        if let anchor = session.clockAnchor, monotonic - anchor.monotonic < session.settings.clockRereadMillis {
            clockAnchor = anchor
            return anchor.now(monotonic: monotonic)
        }
        guard let now = try query("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now", []).first?.int("now") else {
            throw SQLError.permanent("the database returned no time")
        }
        let anchor = PGSession.ClockAnchor(server: now, monotonic: SQLiteClock.monotonicMillis())
        clockAnchor = anchor
        session.clockAnchor = anchor
        return now
    }

    var hasPipelined: Bool { !pipelined.isEmpty }

    /// Checks BEGIN and the pipelined statements, all sent before whatever is waited on now, so
    /// their replies are in. Throws the first failure: the cause, where later statements only
    /// report the aborted transaction.
    func settleEarlierStatements() throws {
        if let begin = pendingBegin {
            pendingBegin = nil
            try wait(.unnamed(begin))
        }
        guard !pipelined.isEmpty else { return }
        let earlier = pipelined
        pipelined.removeAll(keepingCapacity: true)
        for pending in earlier { try wait(pending) }
    }

    private enum Reply {
        case unnamed(PostgresQueryResult)
        case prepared([PostgresRow])
    }

    private func run(_ sql: String, _ binds: [SQLValue], _ wanted: Wanted, rewrite: Bool = true) throws -> Reply {
        let pending = try send(sql, binds, wanted, rewrite: rewrite)
        let result = Result { () throws -> Reply in
            switch pending {
            case .unnamed(let future): return .unnamed(try session.reply(future))
            case .prepared(let future): return .prepared(try session.reply(future))
            }
        }
        try settleEarlierStatements()
        return try result.mapError(failed).get()
    }

    private func wait(_ pending: Pending) throws {
        do {
            switch pending {
            case .unnamed(let future): _ = try session.reply(future)
            case .prepared(let future): _ = try session.reply(future)
            }
        } catch {
            throw failed(error)
        }
    }

    /// Records a failed statement and maps its error.
    private func failed(_ error: any Error) -> any Error {
        sawFailure = true
        if PostgresDatabase.breaksConnection(error) { connectionBroken = true }
        return PostgresDatabase.mapError(error)
    }

    /// Sends a statement as a named prepared statement when this connection has one for it (or
    /// it has earned one, see `PreparedStatements`), otherwise unnamed: Parse/Bind/Execute in one
    /// round trip, parameters typed int8/text/bytea.
    private func send(_ sql: String, _ binds: [SQLValue], _ wanted: Wanted, rewrite: Bool) throws -> Pending {
        guard valid else {
            throw SQLError.configuration("SQLConnection used outside the transaction body that received it")
        }
        if let left = statementsLeft {
            // Outside a transaction each statement would commit on its own: not what a body meant.
            guard left > 0 else {
                throw SQLError.configuration("a second statement in a oneStatement body (it would commit apart from the first): \(sql)")
            }
            statementsLeft = left - 1
        }
        guard rewrite else {
            return .unnamed(connection.query(PostgresQuery(unsafeSQL: sql), logger: session.logger))
        }
        let text = session.text(sql)
        guard text.rewritten.placeholderCount == binds.count else {
            throw SQLError.configuration("statement has \(text.rewritten.placeholderCount) placeholder(s) but \(binds.count) value(s) were bound: \(sql)")
        }
        if let statement = try preparedStatement(sql, text, binds, wanted) {
            return .prepared(statement.execute(binds.map(PreparedStatements.data)))
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
        return .unnamed(connection.query(PostgresQuery(unsafeSQL: text.rewritten.sql, binds: bindings), logger: session.logger))
    }

    private func preparedStatement(_ sql: String, _ text: PGSession.StatementText, _ binds: [SQLValue],
                                   _ wanted: Wanted) throws -> PreparedQuery? {
        let statements = session.prepared
        guard statements.capacity > 0, !text.looksUpAListOfKeys, let kinds = PreparedStatements.BindKinds(binds) else { return nil }
        let countsRows = wanted == .affectedRows
        if countsRows && !text.canCountRows { return nil }
        let key = PreparedStatements.Key(sql: sql, kinds: kinds, countsRows: countsRows)
        do {
            return try statements.statement(for: key, prepare: session.prepare)
        } catch {
            // Preparing fails in a transaction an earlier statement aborted: report the cause.
            try settleEarlierStatements()
            throw failed(error)
        }
    }
}
