import Foundation
import Logging

/// Opens the database a service is configured with (usually `DATABASE_URL`):
///
/// - `sqlite:///absolute/path/service.db`, `sqlite://relative/path.db`, or a plain path: SQLite
///   (parent directories are created). Query options: `synchronous=off|normal|full`,
///   `busy_timeout_ms=5000`.
/// - `sqlite::memory:`: a temporary SQLite file, deleted on close (tests).
/// - `postgres://user:password@host:port/database` (or `postgresql://`): PostgreSQL; see
///   `PostgresDatabase.Configuration.init(url:)` for the query options.
public func openDatabase(url: String,
                         logger: Logger = Logger(label: "persistence")) async throws -> any SQLDatabase {
    let trimmed = url.trimmingCharacters(in: .whitespacesAndNewlines)
    let example = "sqlite:///path/to/service.db or postgres://user:password@host:5432/database"
    guard !trimmed.isEmpty else {
        throw SQLError.configuration("no database URL given; set DATABASE_URL to \(example)")
    }
    let lower = trimmed.lowercased()
    if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
        let configuration = try PostgresDatabase.Configuration(url: trimmed)
        return try await PostgresDatabase.connect(configuration, logger: logger)
    }
    if lower == "sqlite::memory:" || lower == "sqlite://:memory:" {
        return try SQLiteDatabase.temporary(logger: logger)
    }
    if lower.hasPrefix("sqlite:") {
        var rest = String(trimmed.dropFirst("sqlite:".count))
        if rest.hasPrefix("//") { rest.removeFirst(2) }
        return try SQLiteDatabase(configuration: SQLiteURL.parse(rest, original: trimmed), logger: logger)
    }
    if let colon = trimmed.firstIndex(of: ":"), trimmed[..<colon].allSatisfy({ $0.isLetter }),
       trimmed[colon...].hasPrefix("://") {
        throw SQLError.configuration("unsupported database URL scheme '\(trimmed[..<colon])' in DATABASE_URL; use \(example)")
    }
    return try SQLiteDatabase(configuration: SQLiteURL.parse(trimmed, original: trimmed), logger: logger)
}

enum SQLiteURL {
    static let options = ["synchronous", "busy_timeout_ms"]

    static func parse(_ pathAndQuery: String, original: String) throws -> SQLiteDatabase.Configuration {
        let parts = pathAndQuery.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0]).removingPercentEncoding ?? String(parts[0])
        guard !path.isEmpty else {
            throw SQLError.configuration("no file path in SQLite URL '\(original)'; use sqlite:///path/to/service.db")
        }
        var configuration = SQLiteDatabase.Configuration(path: path)
        if parts.count == 2 {
            for item in URLComponents(string: "?" + parts[1])?.queryItems ?? [] {
                let value = item.value ?? ""
                switch item.name {
                case "synchronous":
                    guard let mode = SQLiteDatabase.Synchronous(rawValue: value.uppercased()) else {
                        throw SQLError.configuration("invalid synchronous=\(value) in '\(original)'; use off, normal or full")
                    }
                    configuration.synchronous = mode
                case "busy_timeout_ms":
                    guard let ms = Int64(value), ms >= 0 else {
                        throw SQLError.configuration("invalid busy_timeout_ms=\(value) in '\(original)'")
                    }
                    configuration.busyTimeout = .milliseconds(ms)
                default:
                    throw SQLError.configuration("unknown SQLite URL option '\(item.name)' in '\(original)'; supported: \(options.joined(separator: ", "))")
                }
            }
        }
        return configuration
    }
}

enum PostgresURL {
    static func parse(_ url: String) throws -> PostgresDatabase.Configuration {
        let redacted = redact(url)
        guard let components = URLComponents(string: url),
              let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw SQLError.configuration("invalid PostgreSQL URL '\(redacted)'; expected postgres://user:password@host:port/database")
        }
        guard let user = components.user, !user.isEmpty else {
            throw SQLError.configuration("no user in PostgreSQL URL '\(redacted)'; expected postgres://user:password@host:port/database")
        }
        var host = components.host ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        var configuration = PostgresDatabase.Configuration(
            host: host, port: components.port ?? 5432, username: user,
            password: components.password, database: database.isEmpty ? nil : database)

        var keepalives = configuration.keepalives ?? PostgresDatabase.Keepalives()
        var keepalivesOn = configuration.keepalives != nil
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                switch value {
                case "allow": configuration.tls = .prefer
                default:
                    guard let mode = PostgresDatabase.TLSMode(rawValue: value) else {
                        throw SQLError.configuration("invalid sslmode=\(value) in '\(redacted)'; use disable, prefer, require, verify-ca or verify-full")
                    }
                    configuration.tls = mode
                }
            case "sslrootcert":
                configuration.tlsFiles.rootCertificate = try file(item.name, value, redacted)
            case "sslcert":
                configuration.tlsFiles.certificate = try file(item.name, value, redacted)
            case "sslkey":
                configuration.tlsFiles.key = try file(item.name, value, redacted)
            case "pool_size":
                guard let size = Int(value), size >= 1 else {
                    throw SQLError.configuration("invalid pool_size=\(value) in '\(redacted)'; use a positive integer")
                }
                configuration.poolSize = size
            case "search_path", "currentSchema":
                configuration.searchPath = value
            case "application_name":
                configuration.applicationName = value
            case "connect_timeout":
                guard let seconds = Int64(value), seconds > 0 else {
                    throw SQLError.configuration("invalid connect_timeout=\(value) in '\(redacted)'; use seconds")
                }
                configuration.connectTimeout = .seconds(seconds)
            case "lock_timeout_ms":
                configuration.lockTimeout = try timeout(item.name, value, redacted)
            case "statement_timeout_ms":
                configuration.statementTimeout = try timeout(item.name, value, redacted)
            case "idle_in_transaction_timeout_ms":
                configuration.idleInTransactionTimeout = try timeout(item.name, value, redacted)
            case "keepalives":
                switch value {
                case "1": keepalivesOn = true
                case "0": keepalivesOn = false
                default: throw SQLError.configuration("invalid keepalives=\(value) in '\(redacted)'; use 1 (on, the default) or 0 (off)")
                }
            case "keepalives_idle":
                keepalives.idleSeconds = try count(item.name, value, redacted, PostgresDatabase.Keepalives.secondsRange, "seconds (keepalives=0 turns them off)")
            case "keepalives_interval":
                keepalives.intervalSeconds = try count(item.name, value, redacted, PostgresDatabase.Keepalives.secondsRange, "seconds (keepalives=0 turns them off)")
            case "keepalives_count":
                keepalives.count = try count(item.name, value, redacted, PostgresDatabase.Keepalives.countRange, "probes (keepalives=0 turns them off)")
            case "prepared_statements":
                configuration.preparedStatements = try count(item.name, value, redacted, PostgresDatabase.Configuration.preparedStatementsRange, "statements per connection (0 prepares none)")
            case "clock_reread_ms":
                configuration.clockRereadAfter = .milliseconds(try count(item.name, value, redacted, PostgresDatabase.Configuration.clockRereadRange, "milliseconds (0 reads the server's clock in every transaction)"))
            default:
                throw SQLError.configuration("unknown PostgreSQL URL option '\(item.name)' in '\(redacted)'; supported: \(options.joined(separator: ", "))")
            }
        }
        configuration.keepalives = keepalivesOn ? keepalives : nil
        if (configuration.tlsFiles.certificate == nil) != (configuration.tlsFiles.key == nil) {
            throw SQLError.configuration("sslcert and sslkey go together (a client certificate and its key) in '\(redacted)'")
        }
        if configuration.tls == .disable, configuration.tlsFiles != PostgresDatabase.TLSFiles() {
            throw SQLError.configuration("sslrootcert, sslcert and sslkey need TLS, which sslmode=disable turns off, in '\(redacted)'")
        }
        return configuration
    }

    /// A file a URL option names; it must exist now, so that a typo fails at start-up, naming the option.
    private static func file(_ name: String, _ value: String, _ url: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard !value.isEmpty, FileManager.default.fileExists(atPath: value, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw SQLError.configuration("\(name)=\(value) in '\(url)': no such file")
        }
        guard FileManager.default.isReadableFile(atPath: value) else {
            throw SQLError.configuration("\(name)=\(value) in '\(url)': the file is not readable by this process; check its owner and mode")
        }
        return value
    }

    static let options = [
        "sslmode", "sslrootcert", "sslcert", "sslkey", "pool_size", "search_path", "application_name", "connect_timeout", "lock_timeout_ms",
        "statement_timeout_ms", "idle_in_transaction_timeout_ms", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "prepared_statements", "clock_reread_ms",
    ]

    /// Milliseconds, 0 turning the timeout off; PostgreSQL keeps them in an int (about 24 days).
    private static func timeout(_ name: String, _ value: String, _ url: String) throws -> Duration {
        guard let ms = Int64(value), (0...Int64(Int32.max)).contains(ms) else {
            throw SQLError.configuration("invalid \(name)=\(value) in '\(url)'; use milliseconds from 0 (off) to \(Int32.max)")
        }
        return .milliseconds(ms)
    }

    /// A keepalive setting, within what the Linux socket accepts.
    private static func count(_ name: String, _ value: String, _ url: String, _ range: ClosedRange<Int>, _ unit: String) throws -> Int {
        guard let number = Int(value), range.contains(number) else {
            throw SQLError.configuration("invalid \(name)=\(value) in '\(url)'; use \(range.lowerBound) to \(range.upperBound) \(unit)")
        }
        return number
    }

    /// The URL without its password, for error messages.
    static func redact(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}
