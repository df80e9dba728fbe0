/// A type built from one result row, as GRDB's `FetchableRecord.init(row:)`: each store's row
/// types say once how a row reads, and `fetch`/`fetchOne` map a query's rows through them.
/// Throw `SQLError.permanent` for a row that cannot be what the table promises.
public protocol RowDecodable {
    init(row: SQLRow) throws
}

extension SQLConnection {
    /// Every row of the query, decoded.
    public func fetch<T: RowDecodable>(_ type: T.Type, _ sql: String, _ binds: [SQLValue] = []) throws -> [T] {
        try query(sql, binds).map(T.init(row:))
    }

    /// The first row of the query, decoded; nil when there is none. The SQL is run as given
    /// (add `LIMIT 1` where more rows could match).
    public func fetchOne<T: RowDecodable>(_ type: T.Type, _ sql: String, _ binds: [SQLValue] = []) throws -> T? {
        try query(sql, binds).first.map(T.init(row:))
    }
}
