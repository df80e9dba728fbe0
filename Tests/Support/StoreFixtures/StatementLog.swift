import Persistence

/// A connection that forwards every statement to a real one and keeps its text: for tests of
/// how many statements a piece of work costs (a batch's reads, a transaction's round trips).
public final class StatementLog: SQLConnection {
    private let connection: any SQLConnection
    public private(set) var statements: [String] = []

    public init(_ connection: any SQLConnection) {
        self.connection = connection
    }

    public var dialect: SQLDialect { connection.dialect }

    public func execute(_ sql: String, _ binds: [SQLValue]) throws -> Int {
        statements.append(sql)
        return try connection.execute(sql, binds)
    }

    public func query(_ sql: String, _ binds: [SQLValue]) throws -> [SQLRow] {
        statements.append(sql)
        return try connection.query(sql, binds)
    }

    public func executePipelined(_ sql: String, _ binds: [SQLValue]) throws {
        statements.append(sql)
        try connection.executePipelined(sql, binds)
    }

    public func databaseTimeMillis() throws -> Int64 {
        try connection.databaseTimeMillis()
    }

    /// Statements sent so far whose text contains `fragment`.
    public func count(_ fragment: String) -> Int {
        statements.filter { $0.contains(fragment) }.count
    }
}
