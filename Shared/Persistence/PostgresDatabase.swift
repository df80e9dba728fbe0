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
/// Statements go as unnamed extended-protocol statements (Parse/Bind/Execute in one round
/// trip, parameters typed int8/text/bytea). Named prepared statements would save the server's
/// parse/plan, but postgres-nio 1.33 offers them only without the command tag we need for
/// affected-row counts (`PreparedQuery`, deprecated) or with a static SQL type whose
/// command-tag variant traps; `EXECUTE name($1)` cannot take bind parameters. Measured on
/// the 2-core box: 6.8k unnamed vs 9.9k prepared statements/s per connection.
///
/// Round trips: BEGIN is sent with the first statement, `executePipelined` statements with the
/// next statement or the COMMIT, and a read-only transaction does not wait for its COMMIT (the
/// next transaction on the connection queues behind it). A worker thread waits once per
/// statement whose result the body needs, plus once for a write's COMMIT. Measured: a handler
/// that upserts a row per event went from 3.4–3.8k to 4.6–4.8k events/s with its upsert
/// pipelined (`messaging-harness bench throughput`, 500-event batches).
///
/// Cancelling the calling task does not interrupt a transaction that has started.
public final class PostgresDatabase: SQLDatabase {
    /// libpq's `sslmode`s. `prefer` and `require` encrypt without checking who answers (unless
    /// a root certificate is given, which makes them `verify-ca`, as in libpq); `verify-ca`
    /// checks the server's certificate against the root certificates; `verify-full` also checks
    /// that it names the host dialled (a DNS name, or an IP address against its IP entries).
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// PEM files for TLS: the CA certificates to verify the server with (`sslrootcert`; the
    /// system's store when absent), and this client's certificate and key (`sslcert`,
    /// `sslkey`), for a server that authenticates clients by certificate.
    public struct TLSFiles: Sendable, Equatable {
        public var rootCertificate: String?
        public var certificate: String?
        public var key: String?

        public init(rootCertificate: String? = nil, certificate: String? = nil, key: String? = nil) {
            self.rootCertificate = rootCertificate
            self.certificate = certificate
            self.key = key
        }
    }

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        /// Defaults to the user name, as libpq does.
        public var database: String?
        public var tls: TLSMode = .disable
        public var tlsFiles = TLSFiles()
        /// Connections, and therefore transactions running at once.
        public var poolSize: Int = 4
        /// Isolation of `write` transactions.
        public var isolation: IsolationLevel = .readCommitted
        /// Sent as the `search_path` startup parameter (e.g. one schema per test).
        public var searchPath: String?
        /// `lock_timeout`: a statement that waits longer for a row or table lock fails with
        /// 55P03 (transient), so a stuck lock holder stalls its waiters for seconds, not hours,
        /// and they retry. Row locks here last one batch transaction (milliseconds); waiting 5 s
        /// means something is wrong. Zero: no limit.
        public var lockTimeout: Duration = .seconds(5)
        /// `statement_timeout`: a statement running longer is cancelled with 57014 (transient).
        /// Bounds a runaway query and the locks it holds; the largest statements here (audit
        /// pages of 5,000 rows) need a fraction of this. Zero: no limit. Migrations run without it.
        public var statementTimeout: Duration = .seconds(30)
        /// `idle_in_transaction_session_timeout`: the server ends a session that sits inside a
        /// transaction without sending a statement for longer (25P03, then the connection
        /// closes), releasing its locks. Transaction bodies are synchronous code between
        /// statements, so only a stalled or paused process gets there. Zero: no limit.
        public var idleInTransactionTimeout: Duration = .seconds(10)
        /// TCP keepalives on the client socket and, through startup parameters, on the server's
        /// end; nil leaves both to the operating system (probes after 2 hours on Linux).
        public var keepalives: Keepalives? = Keepalives()
        public var connectTimeout: Duration = .seconds(10)
        public var applicationName: String?

        public init(host: String = "127.0.0.1", port: Int = 5432, username: String, password: String? = nil,
                    database: String? = nil) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
        }

        /// `postgres://user:password@host:port/database?sslmode=disable&pool_size=4&search_path=s&application_name=a&connect_timeout=10`,
        /// libpq's `sslrootcert`, `sslcert` and `sslkey` (paths to PEM files),
        /// plus `lock_timeout_ms`, `statement_timeout_ms`, `idle_in_transaction_timeout_ms` (0 = off)
        /// and libpq's `keepalives` (0 or 1), `keepalives_idle`, `keepalives_interval` (seconds),
        /// `keepalives_count`.
        public init(url: String) throws {
            self = try PostgresURL.parse(url)
        }

        /// host:port/database, for messages (never the password).
        public var endpoint: String { "\(host):\(port)/\(database ?? username)" }
    }

    /// When a silent peer counts as gone. Keepalive probes start after `idleSeconds` without
    /// traffic and repeat every `intervalSeconds`; after `count` unanswered ones the connection
    /// is dropped. On the client this ends a worker's wait on a server that was cut off or whose
    /// host died (postgres-nio has no read timeout of its own); on the server it ends the
    /// backend of a client that vanished, freeing its connection slot. The defaults detect a
    /// dead peer within about 30 s.
    public struct Keepalives: Sendable, Equatable {
        public var idleSeconds: Int
        public var intervalSeconds: Int
        public var count: Int

        public init(idleSeconds: Int = 15, intervalSeconds: Int = 5, count: Int = 3) {
            self.idleSeconds = idleSeconds
            self.intervalSeconds = intervalSeconds
            self.count = count
        }

        /// What Linux accepts for TCP_KEEPIDLE / TCP_KEEPINTVL, and for TCP_KEEPCNT.
        public static let secondsRange = 1...32767
        public static let countRange = 1...127

        /// Also the bound on data the peer has not acknowledged (TCP_USER_TIMEOUT): keepalives
        /// only probe an idle connection, a statement sent to a dead host waits for retransmits
        /// (15 minutes by default on Linux) unless this cuts it short.
        var unacknowledgedLimitMilliseconds: Int { min(Int(Int32.max), (idleSeconds + intervalSeconds * count) * 1000) }

        /// What is wrong with these values, if anything.
        var problem: String? {
            if !Self.secondsRange.contains(idleSeconds) { return "keepalive idle time \(idleSeconds) s is outside \(Self.secondsRange)" }
            if !Self.secondsRange.contains(intervalSeconds) { return "keepalive interval \(intervalSeconds) s is outside \(Self.secondsRange)" }
            if !Self.countRange.contains(count) { return "keepalive count \(count) is outside \(Self.countRange)" }
            return nil
        }
    }

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
            let thread = Thread { [workers] in
                let session = PGSession(settings: settings, connection: connection)
                while let job = queue.take() {
                    job.run(session)
                }
                session.shutdown()
                workers.leave()
            }
            thread.name = "persistence-pg-\(index)"
            thread.start()
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
        try await submit(readOnly: false, body)
    }

    @discardableResult
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await submit(readOnly: true, body)
    }

    /// Waits for running transactions to finish; queued ones fail with a configuration error.
    public func close() async {
        for job in queue.close() { job.fail(closedError) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            workers.notify(queue: .global()) { continuation.resume() }
        }
    }

    private func submit<T: Sendable>(readOnly: Bool,
                                     _ body: @escaping @Sendable (SQLConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { session in
                    continuation.resume(with: Result { try session.transaction(readOnly: readOnly, body) })
                },
                fail: { continuation.resume(throwing: $0) })
            if !queue.submit(job) {
                continuation.resume(throwing: closedError)
            }
        }
    }
}

// MARK: - Connection settings

/// Everything a worker needs to (re)connect.
struct PGSettings: Sendable {
    let configuration: PostgresDatabase.Configuration
    let tls: PostgresConnection.Configuration.TLS
    let options: PostgresConnection.Configuration.Options
    let logger: Logger
    let writeBegin: String
    let readBegin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    private static let nextID = Protected(0)

    init(configuration: PostgresDatabase.Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.writeBegin = "BEGIN ISOLATION LEVEL \(configuration.isolation.rawValue)"

        tls = try Self.tls(configuration.tls, configuration.tlsFiles)
        var options = PostgresConnection.Configuration.Options()
        // Bounds the handshake; the TCP connect has its own bound in `openChannel`.
        options.connectTimeout = .milliseconds(configuration.connectTimeout.milliseconds)
        // postgres-nio derives this from the host only when it opens the socket itself.
        if !Self.isIPAddress(configuration.host) { options.tlsServerName = configuration.host }
        options.additionalStartupParameters = Self.startupParameters(configuration)
        self.options = options
    }

    /// postgres-nio's TLS setting for an sslmode and its files.
    static func tls(_ mode: PostgresDatabase.TLSMode, _ files: PostgresDatabase.TLSFiles) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable: return .disable
        case .prefer, .require: tls.certificateVerification = files.rootCertificate == nil ? .none : .noHostnameVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        do {
            if let root = files.rootCertificate {
                // Parsed now, so that a file that holds no certificate fails at start-up.
                let roots = try NIOSSLCertificate.fromPEMFile(root)
                guard !roots.isEmpty else { throw SQLError.configuration("sslrootcert=\(root) holds no PEM certificate") }
                tls.trustRoots = .certificates(roots)
            }
            if let certificate = files.certificate, let key = files.key {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            let context = try NIOSSLContext(configuration: tls)
            return mode == .prefer ? .prefer(context) : .require(context)
        } catch let error as SQLError {
            throw error
        } catch {
            throw SQLError.configuration("""
                cannot set up TLS for PostgreSQL from sslrootcert=\(files.rootCertificate ?? "(system store)"), \
                sslcert=\(files.certificate ?? "-"), sslkey=\(files.key ?? "-") (PEM files; the key unencrypted): \(error)
                """)
        }
    }

    /// Session settings sent in the startup message, so that every connection, including one
    /// made again after a failure, has them before its first statement.
    static func startupParameters(_ configuration: PostgresDatabase.Configuration) -> [(String, String)] {
        var parameters: [(String, String)] = []
        if let searchPath = configuration.searchPath { parameters.append(("search_path", searchPath)) }
        parameters.append(("lock_timeout", milliseconds(configuration.lockTimeout)))
        parameters.append(("statement_timeout", milliseconds(configuration.statementTimeout)))
        parameters.append(("idle_in_transaction_session_timeout", milliseconds(configuration.idleInTransactionTimeout)))
        if let keepalives = configuration.keepalives {
            parameters.append(("tcp_keepalives_idle", "\(keepalives.idleSeconds)"))
            parameters.append(("tcp_keepalives_interval", "\(keepalives.intervalSeconds)"))
            parameters.append(("tcp_keepalives_count", "\(keepalives.count)"))
        }
        if let name = configuration.applicationName { parameters.append(("application_name", name)) }
        return parameters
    }

    /// PostgreSQL's spelling of a timeout; "0" turns it off, a positive value below 1 ms counts as 1 ms.
    static func milliseconds(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if duration <= .zero { return "0" }
        return "\(max(1, ms))ms"
    }

    func connect() -> EventLoopFuture<PostgresConnection> {
        let id = Self.nextID.update { value -> Int in
            value += 1
            return value
        }
        return openChannel().flatMap { [configuration, tls, options, logger] channel in
            var connection = PostgresConnection.Configuration(
                establishedChannel: channel, tls: tls, username: configuration.username,
                password: configuration.password, database: configuration.database ?? configuration.username)
            connection.options = options
            return PostgresConnection.connect(on: channel.eventLoop, configuration: connection, id: id, logger: logger)
                .flatMapErrorThrowing { error in
                    // A failed handshake must not leave the socket open.
                    channel.close(promise: nil)
                    throw error
                }
        }
    }

    /// The TCP connection, opened here rather than by postgres-nio so that its socket gets
    /// keepalive options (postgres-nio 1.33 sets no socket options of its own).
    func openChannel() -> EventLoopFuture<any Channel> {
        var bootstrap = ClientBootstrap(group: PostgresConnection.defaultEventLoopGroup.next())
            .connectTimeout(.milliseconds(configuration.connectTimeout.milliseconds))
        if let keepalives = configuration.keepalives {
            bootstrap = bootstrap.channelOption(.socketOption(.so_keepalive), value: 1)
            for (name, value) in Self.keepaliveSocketOptions(keepalives) {
                bootstrap = bootstrap.channelOption(
                    ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: name)), value: value)
            }
        }
        return bootstrap.connect(host: configuration.host, port: configuration.port)
    }

    /// IPPROTO_TCP options (name, value) for these keepalives.
    static func keepaliveSocketOptions(_ keepalives: PostgresDatabase.Keepalives) -> [(CInt, Int)] {
        #if os(Linux)
        return [(CInt(TCP_KEEPIDLE), keepalives.idleSeconds), (CInt(TCP_KEEPINTVL), keepalives.intervalSeconds),
                (CInt(TCP_KEEPCNT), keepalives.count), (CInt(TCP_USER_TIMEOUT), keepalives.unacknowledgedLimitMilliseconds)]
        #elseif canImport(Darwin)
        return [(CInt(TCP_KEEPALIVE), keepalives.idleSeconds), (CInt(TCP_KEEPINTVL), keepalives.intervalSeconds),
                (CInt(TCP_KEEPCNT), keepalives.count)]
        #else
        return []
        #endif
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return host.withCString { inet_pton(AF_INET, $0, &v4) == 1 || inet_pton(AF_INET6, $0, &v6) == 1 }
    }

    func describeConnectError(_ error: any Error) -> SQLError {
        let endpoint = "\(configuration.host):\(configuration.port)"
        let database = configuration.database ?? configuration.username
        if let error = error as? PSQLError, error.code == .server {
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = PostgresDatabase.serverMessage(error)
            switch state {
            case "28P01", "28000":
                return .configuration("PostgreSQL at \(endpoint) rejected user '\(configuration.username)': \(message); check the user and password in DATABASE_URL")
            case "3D000":
                return .configuration("database '\(database)' does not exist on PostgreSQL at \(endpoint): \(message); create it (e.g. .ci/postgres.sh) or fix DATABASE_URL")
            default:
                let mapped = PostgresDatabase.classify(sqlState: state, message: message)
                let text = "cannot connect to PostgreSQL at \(endpoint) (database '\(database)'): \(message)"
                return mapped.isTransient ? .transient(text) : .configuration(text)
            }
        }
        let reason: String
        if let error = error as? PSQLError {
            reason = error.underlying.map { "\($0)" } ?? "\(error.code)"
        } else {
            reason = "\(error)"
        }
        // Transient: in a compose stack the server may simply not be up yet.
        return .transient("cannot connect to PostgreSQL at \(endpoint) (database '\(database)'): \(reason); is the server running? set DATABASE_URL (postgres://user:password@host:port/database)")
    }
}

// MARK: - Job queue

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
    private static let commit = PostgresQuery(unsafeSQL: "COMMIT")
    private static let rollback = PostgresQuery(unsafeSQL: "ROLLBACK")

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

    private func liveConnection() throws -> PostgresConnection {
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
        let first = { settled.update { done -> Bool in defer { done = true }; return !done } }
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
                do { _ = try PGSession.reply(sentCommit, on: connection) } catch { dropConnection() }
            } else {
                do { _ = try PGSession.reply(connection.query(Self.rollback, logger: logger), on: connection) } catch { dropConnection() }
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
            result = try PGSession.reply(sentCommit ?? connection.query(Self.commit, logger: logger), on: connection)
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
}

/// The connection closed while a statement waited for its reply.
struct PGConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the connection closed before the statement's reply arrived" }
}

// MARK: - Connection handed to transaction bodies

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
        let result = Result { try PGSession.reply(future, on: connection) }
        try settleEarlierStatements()
        return try result.mapError(failed).get()
    }

    private func wait(_ future: EventLoopFuture<PostgresQueryResult>) throws {
        do { _ = try PGSession.reply(future, on: connection) } catch { throw failed(error) }
    }

    /// Records a failed statement and maps its error.
    private func failed(_ error: any Error) -> any Error {
        sawFailure = true
        if PostgresDatabase.breaksConnection(error) { connectionBroken = true }
        return PostgresDatabase.mapError(error)
    }

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

    static func affectedRows(_ metadata: PostgresQueryMetadata) -> Int {
        // A SELECT changes nothing (SQLite reports 0 too); its tag carries the rows returned.
        if metadata.command == "SELECT" { return 0 }
        if let rows = metadata.rows { return rows }
        // postgres-nio parses only some command tags ("MERGE 3" is left whole).
        if let last = metadata.command.split(separator: " ").last, let rows = Int(last) { return rows }
        return 0
    }

    static func decodeRows(_ rows: [PostgresRow]) -> [SQLRow] {
        guard let first = rows.first else { return [] }
        let columns = first.map(\.columnName)
        var result: [SQLRow] = []
        result.reserveCapacity(rows.count)
        for row in rows {
            var values: [SQLValue] = []
            values.reserveCapacity(columns.count)
            for cell in row { values.append(decodeCell(cell)) }
            result.append(SQLRow(columns: columns, values: values))
        }
        return result
    }

    static func decodeCell(_ cell: PostgresCell) -> SQLValue {
        guard var buffer = cell.bytes else { return .null }
        if cell.format == .text {
            let string = String(buffer: buffer)
            switch cell.dataType {
            case .int2, .int4, .int8, .oid:
                if let value = Int64(string) { return .integer(value) }
            default:
                break
            }
            return .text(string)
        }
        switch cell.dataType {
        case .int8:
            if buffer.readableBytes == 8, let v = buffer.readInteger(as: Int64.self) { return .integer(v) }
        case .int4:
            if buffer.readableBytes == 4, let v = buffer.readInteger(as: Int32.self) { return .integer(Int64(v)) }
        case .int2:
            if buffer.readableBytes == 2, let v = buffer.readInteger(as: Int16.self) { return .integer(Int64(v)) }
        case .oid:
            if buffer.readableBytes == 4, let v = buffer.readInteger(as: UInt32.self) { return .integer(Int64(v)) }
        case .bool:
            if buffer.readableBytes == 1, let v = buffer.readInteger(as: UInt8.self) { return .integer(v == 0 ? 0 : 1) }
        case .bytea:
            return .blob(Array(buffer.readableBytesView))
        case .text, .varchar, .bpchar, .name, .json, .unknown:
            return .text(String(buffer: buffer))
        case .float4, .float8:
            if let v = try? cell.decode(Double.self) { return .text(String(v)) }
        case .numeric:
            if let v = PostgresData(type: .numeric, formatCode: .binary, value: buffer).numeric { return .text(v.string) }
        case .timestamptz, .timestamp:
            if buffer.readableBytes == 8, let micros = buffer.readInteger(as: Int64.self) {
                return .text(Self.formatTimestamp(micros: micros, utc: cell.dataType == .timestamptz))
            }
        case .jsonb, .uuid:
            if let v = try? cell.decode(String.self) { return .text(v) }
        default:
            break
        }
        // Other types: text if they are text on the wire (enums, citext, ...), else the raw bytes.
        let bytes = Array(buffer.readableBytesView)
        if !bytes.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }),
           let text = String(bytes: bytes, encoding: .utf8) {
            return .text(text)
        }
        return .blob(bytes)
    }

    /// ISO 8601 from PostgreSQL's binary timestamp (microseconds since 2000-01-01), exact to the
    /// microsecond (Foundation's Date would round through a Double).
    static func formatTimestamp(micros: Int64, utc: Bool) -> String {
        if micros == .max { return "infinity" }
        if micros == .min { return "-infinity" }
        let perDay: Int64 = 86_400_000_000
        var days = micros / perDay
        var rest = micros % perDay
        if rest < 0 { rest += perDay; days -= 1 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 10_957 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let seconds = rest / 1_000_000
        var fraction = rest % 1_000_000
        func pad(_ v: Int64, _ width: Int) -> String {
            let digits = String(v)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
        if fraction != 0 {
            var width = 6
            while fraction % 10 == 0 { fraction /= 10; width -= 1 }
            text += "." + pad(fraction, width)
        }
        return utc ? text + "Z" : text
    }
}
