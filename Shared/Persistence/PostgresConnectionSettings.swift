import Foundation
import Locking
import Logging
import PostgresNIO

/// Everything a worker needs to (re)connect.
struct PGSettings: Sendable {
    let configuration: PostgresDatabase.Configuration
    let tls: PostgresConnection.Configuration.TLS
    let options: PostgresConnection.Configuration.Options
    let logger: Logger
    let writeBegin: String
    let readBegin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
    var preparedStatements: Int { configuration.preparedStatements }
    var clockRereadMillis: Int64 { configuration.clockRereadAfter.milliseconds }
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
}
