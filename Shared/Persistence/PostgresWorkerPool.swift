import Foundation
import Locking
import Logging
import PostgresNIO

struct Job: Sendable {
    let run: @Sendable (PGSession) -> Void
    let fail: @Sendable (any Error) -> Void
}

/// FIFO of transactions waiting for a worker.
final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var head = 0
    private var closed = false

    func submit(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Blocks until a job is available; nil once the queue is closed.
    func take() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while !closed && head == jobs.count { condition.wait() }
        guard !closed else { return nil }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= jobs.count {
            // A queue that never empties (a backlog the workers do not catch up on) would keep
            // every job it ever handed out.
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    /// Jobs the queue holds, handed out or not (for its tests).
    var heldCount: Int { condition.withLock { jobs.count } }

    /// Closes the queue and hands back the jobs nobody took.
    func close() -> [Job] {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        let pending = Array(jobs[head...])
        jobs = []
        head = 0
        condition.broadcast()
        return pending
    }
}

// MARK: - Worker session

/// The state of one worker thread: its connection and caches. Used only on that thread.
final class PGSession {
    let settings: PGSettings
    private(set) var connection: PostgresConnection? {
        didSet {
            closing = connection.map(ConnectionClosing.init)
            prepared = PreparedStatements(capacity: settings.preparedStatements)
            clockAnchor = nil
        }
    }
    /// The server's clock as this connection last read it, and the monotonic time then
    /// (`PGConnection.databaseTimeMillis`). A new connection may reach another server: it reads anew.
    var clockAnchor: ClockAnchor?

    struct ClockAnchor {
        let server: Int64
        let monotonic: Int64

        func now(monotonic current: Int64) -> Int64 { server + current - monotonic }
    }
    /// The one watch on the current connection's closing (see `reply`).
    private var closing: ConnectionClosing?
    /// The current connection's prepared statements.
    private(set) var prepared: PreparedStatements
    private var textCache: [String: StatementText] = [:]

    /// What a statement's text says once rewritten for PostgreSQL, kept per text.
    struct StatementText {
        let rewritten: PostgresPlaceholders.Rewritten
        /// See `PreparedStatements.canCountRows`.
        let canCountRows: Bool
        /// See `PreparedStatements.looksUpAListOfKeys`.
        let looksUpAListOfKeys: Bool
    }

    var logger: Logger { settings.logger }

    init(settings: PGSettings, connection: PostgresConnection) {
        self.settings = settings
        self.connection = connection
        closing = ConnectionClosing(connection)
        prepared = PreparedStatements(capacity: settings.preparedStatements)
    }

    func text(_ sql: String) -> StatementText {
        if let cached = textCache[sql] { return cached }
        let result = StatementText(rewritten: PostgresPlaceholders.rewrite(sql),
                                   canCountRows: PreparedStatements.canCountRows(sql),
                                   looksUpAListOfKeys: PreparedStatements.looksUpAListOfKeys(sql))
        // Statements are a fixed set in practice; the bound only guards against generated SQL.
        if textCache.count >= 1024 { textCache.removeAll(keepingCapacity: true) }
        textCache[sql] = result
        return result
    }

    /// Prepares `text` on the current connection, waiting for the server's answer.
    func prepare(_ text: String) throws -> PreparedQuery {
        guard let connection else { throw PGConnectionClosed() }
        return try reply(connection.prepare(query: text))
    }

    func liveConnection() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        dropConnection()
        do {
            let connection = try settings.connect().wait()
            self.connection = connection
            return connection
        } catch {
            throw settings.describeConnectError(error)
        }
    }

    /// Blocks for a statement's reply, or until the connection closes. postgres-nio 1.33 can
    /// leave a statement queued behind one that just finished unanswered for good when the
    /// server ends the session in between (a FATAL such as 25P03 idle-in-transaction timeout):
    /// the closed channel ends the wait instead. `future` is a statement of the current connection.
    func reply<Value: Sendable>(_ future: EventLoopFuture<Value>) throws -> Value {
        guard let closing else { throw PGConnectionClosed() }
        return try closing.wait(for: future)
    }

    func dropConnection() {
        if let connection { connection.close().whenComplete { _ in } }
        connection = nil
    }

    func shutdown() {
        if let connection { try? connection.close().wait() }
        connection = nil
    }
}

/// Wakes the worker waiting for a reply when its connection closes, through one callback on the
/// connection's `closeFuture` for the connection's whole life. (A callback per statement would
/// stay on that future, holding its statement's reply, until the connection closed: memory that
/// grew with every statement.)
final class ConnectionClosing: @unchecked Sendable {
    private let lock = NSLock()
    private var closed = false
    /// Fails the reply being waited for, if it has not completed yet.
    private var waiting: (@Sendable (any Error) -> Void)?

    init(_ connection: PostgresConnection) {
        connection.closeFuture.whenComplete { [weak self] _ in self?.connectionClosed() }
    }

    private func connectionClosed() {
        let waiting = lock.withLock { () -> (@Sendable (any Error) -> Void)? in
            closed = true
            defer { self.waiting = nil }
            return self.waiting
        }
        waiting?(PGConnectionClosed())
    }

    /// The reply of `future`, or `PGConnectionClosed` if the connection closes first.
    func wait<Value: Sendable>(for future: EventLoopFuture<Value>) throws -> Value {
        let promise = future.eventLoop.makePromise(of: Value.self)
        let settled = Protected(false)
        let complete: @Sendable (Result<Value, any Error>) -> Void = { result in
            if settled.update({ done -> Bool in defer { done = true }; return !done }) { promise.completeWith(result) }
        }
        future.whenComplete(complete)
        let closedAlready = lock.withLock { () -> Bool in
            if closed { return true }
            waiting = { complete(.failure($0)) }
            return false
        }
        if closedAlready { complete(.failure(PGConnectionClosed())) }
        defer { lock.withLock { waiting = nil } }
        return try promise.futureResult.wait()
    }
}
