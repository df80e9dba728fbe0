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
        }
        return job
    }

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
    private(set) var connection: PostgresConnection?
    private var rewriteCache: [String: PostgresPlaceholders.Rewritten] = [:]

    var logger: Logger { settings.logger }

    init(settings: PGSettings, connection: PostgresConnection) {
        self.settings = settings
        self.connection = connection
    }

    func rewritten(_ sql: String) -> PostgresPlaceholders.Rewritten {
        if let cached = rewriteCache[sql] { return cached }
        let result = PostgresPlaceholders.rewrite(sql)
        // Statements are a fixed set in practice; the bound only guards against generated SQL.
        if rewriteCache.count >= 1024 { rewriteCache.removeAll(keepingCapacity: true) }
        rewriteCache[sql] = result
        return result
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
    /// the closed channel ends the wait instead.
    static func reply(_ future: EventLoopFuture<PostgresQueryResult>,
                      on connection: PostgresConnection) throws -> PostgresQueryResult {
        let loop = future.eventLoop
        let promise = loop.makePromise(of: PostgresQueryResult.self)
        let settled = Protected(false)
        let first: @Sendable () -> Bool = { settled.update { done -> Bool in defer { done = true }; return !done } }
        future.whenComplete { result in
            if first() { promise.completeWith(result) }
        }
        connection.closeFuture.whenComplete { _ in
            if first() { promise.fail(PGConnectionClosed()) }
        }
        return try promise.futureResult.wait()
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
