import Foundation

extension PostgresDatabase {
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
        /// Named prepared statements kept per connection (see `PreparedStatements`); 0 sends every
        /// statement unnamed, parsed and planned on each execution.
        public var preparedStatements = 128
        public static let preparedStatementsRange = 0...4096
        /// How long a connection counts on from one reading of the server's clock (by this
        /// machine's monotonic clock) before it asks the server again: every transaction's first
        /// clock read within it costs no round trip. A step of the server's clock shows after at
        /// most this long; drift between the two clocks over a second is microseconds. Zero reads
        /// the server in every transaction that asks for the time.
        public var clockRereadAfter: Duration = .seconds(1)
        public static let clockRereadRange = 0...60_000

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
        /// `keepalives_count`, `prepared_statements` (per connection, 0 = none) and `clock_reread_ms`
        /// (see `clockRereadAfter`).
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
}
