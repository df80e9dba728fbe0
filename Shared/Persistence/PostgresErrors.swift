import PostgresNIO

extension PostgresDatabase {
    /// Classifies a PostgreSQL SQLSTATE: what a caller should do about it.
    ///
    /// Transient (retry the whole transaction): 40001 serialization failure, 40P01 deadlock,
    /// 55P03 lock not available (lock_timeout), 57014 statement timeout/cancel, 25P03 session
    /// ended by idle_in_transaction_session_timeout, 57P05 by idle_session_timeout, class 08
    /// (connection), 57P01-03 (server shutting down / starting), class 53 (out of resources).
    /// Configuration: class 28 (authentication), 3D000 (no such database), 42501 (privilege).
    /// Everything else, including class 23 (constraints), is permanent.
    public static func classify(sqlState: String, message: String) -> SQLError {
        let text = "\(message) (SQLSTATE \(sqlState))"
        switch sqlState {
        case "40001", "40P01", "55P03", "57014", "25P03", "57P01", "57P02", "57P03", "57P05":
            return .transient(text)
        case "3D000", "42501":
            return .configuration(text)
        default:
            break
        }
        switch sqlState.prefix(2) {
        case "08", "53": return .transient(text)
        case "28": return .configuration(text)
        default: return .permanent(text)
        }
    }

    /// Maps anything postgres-nio throws to `SQLError`; errors that are already `SQLError`, and
    /// errors thrown by caller code, pass through unchanged.
    static func mapError(_ error: any Error) -> any Error {
        if error is SQLError { return error }
        if let error = error as? PSQLError { return mapPSQLError(error) }
        if let error = error as? PostgresError { return mapLegacyError(error) }
        if error is ChannelError || error is IOError || error is PGConnectionClosed {
            return SQLError.transient("connection to PostgreSQL failed: \(error)")
        }
        return error
    }

    static func mapPSQLError(_ error: PSQLError) -> SQLError {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?????"
            return classify(sqlState: state, message: serverMessage(error))
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown,
             .queryCancelled, .poolClosed:
            return .transient("connection to PostgreSQL lost (\(error.code))\(underlyingText(error))")
        case .sslUnsupported, .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest,
             .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return .configuration("PostgreSQL connection setup failed (\(error.code))\(underlyingText(error))")
        case .tooManyParameters:
            return .permanent("too many parameters in one statement (PostgreSQL allows 65535)")
        default:
            return .permanent("PostgreSQL client error (\(error.code))\(underlyingText(error))")
        }
    }

    /// The legacy error type, which postgres-nio's prepared statements (`PreparedQuery`) throw.
    static func mapLegacyError(_ error: PostgresError) -> SQLError {
        switch error {
        case .server(let server):
            return classify(sqlState: server.fields[.sqlState] ?? "?????", message: serverMessage(server.fields))
        case .connectionClosed:
            return .transient("connection to PostgreSQL lost (connection closed)")
        case .protocol(let message):
            return .transient("connection to PostgreSQL lost (protocol error: \(message))")
        }
    }

    /// postgres-nio hides details from `description` on purpose; we surface the server's
    /// message, detail and hint (no bind values) because operators need them.
    static func serverMessage(_ error: PSQLError) -> String {
        guard let info = error.serverInfo else { return "\(error.code)" }
        return serverMessage(message: info[.message], detail: info[.detail], hint: info[.hint], constraint: info[.constraintName])
    }

    static func serverMessage(_ fields: [PostgresMessage.Error.Field: String]) -> String {
        serverMessage(message: fields[.message], detail: fields[.detail], hint: fields[.hint], constraint: fields[.constraintName])
    }

    private static func serverMessage(message: String?, detail: String?, hint: String?, constraint: String?) -> String {
        var text = message ?? "unknown server error"
        if let detail { text += "; \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        if let constraint { text += " [constraint \(constraint)]" }
        return text
    }

    /// The cause of a lost connection; for the server's own FATAL (e.g. 25P03, 57P01) its
    /// message and SQLSTATE, which PSQLError's description leaves out.
    static func underlyingText(_ error: PSQLError) -> String {
        guard let underlying = error.underlying else { return "" }
        if let server = underlying as? PSQLError, server.code == .server {
            return ": \(serverMessage(server)) (SQLSTATE \(server.serverInfo?[.sqlState] ?? "?????"))"
        }
        return ": \(underlying)"
    }

    /// Whether the connection is unusable after this error and must be replaced.
    static func breaksConnection(_ error: any Error) -> Bool {
        if let error = error as? PSQLError {
            switch error.code {
            case .server:
                return serverEndsSession(severity: error.serverInfo?[.severity], state: error.serverInfo?[.sqlState])
            case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown,
                 .messageDecodingFailure, .unexpectedBackendMessage:
                return true
            default:
                return false
            }
        }
        if let error = error as? PostgresError {
            guard case .server(let server) = error else { return true }
            return serverEndsSession(severity: server.fields[.severity], state: server.fields[.sqlState])
        }
        return error is ChannelError || error is IOError || error is PGConnectionClosed
    }

    /// The server ends the session after a FATAL (25P03 idle-in-transaction timeout, 57P01
    /// admin shutdown, ...): the next transaction needs a new connection.
    private static func serverEndsSession(severity: String?, state: String?) -> Bool {
        if severity == "FATAL" || severity == "PANIC" { return true }
        let state = state ?? ""
        return state.hasPrefix("08") || state.hasPrefix("57P") || state == "25P03"
    }
}

/// The connection closed while a statement waited for its reply.
struct PGConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the connection closed before the statement's reply arrived" }
}

extension PGSettings {
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
