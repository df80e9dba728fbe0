import Foundation
import Logging
import Persistence
import XCTest

/// The two storage backends every storage-touching test runs against, one fixture each:
/// a fresh SQLite file, or a fresh PostgreSQL schema in the test server (`POSTGRES_URL`).
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    public var description: String { rawValue }

    /// A fresh store of this backend, migrated with `migrations`.
    public func makeStore(migrations: [Migration] = []) async throws -> TestStore {
        let store = switch self {
        case .sqlite: try SQLiteFixture.makeStore()
        case .postgres: try await PostgresFixture.makeStore()
        }
        guard !migrations.isEmpty else { return store }
        do {
            try await store.open().migrate(migrations)
        } catch {
            await store.tearDown()
            throw error
        }
        return store
    }
}

/// Options a test may need for a handle; each backend maps them to what it offers.
public struct OpenOptions: Sendable {
    /// SQLite: busy timeout. PostgreSQL: lock_timeout.
    public var lockTimeout: Duration?
    /// PostgreSQL: connections in the pool. Ignored by SQLite.
    public var poolSize: Int?
    /// PostgreSQL only.
    public var isolation: PostgresDatabase.IsolationLevel?
    /// PostgreSQL only: query options read as `DATABASE_URL` would give them (e.g.
    /// `statement_timeout_ms=200`), before the options above are applied.
    public var urlQuery: String?

    public init(lockTimeout: Duration? = nil, poolSize: Int? = nil, isolation: PostgresDatabase.IsolationLevel? = nil,
                urlQuery: String? = nil) {
        self.lockTimeout = lockTimeout
        self.poolSize = poolSize
        self.isolation = isolation
        self.urlQuery = urlQuery
    }
}

/// One test's store. Every `open` connects to the same store, as another process would;
/// `url` is how another process opens it. `tearDown` closes every handle and removes the store.
public final class TestStore: @unchecked Sendable {
    public let backend: Backend
    public let url: String
    private let opener: @Sendable (OpenOptions) async throws -> any SQLDatabase
    private let cleanup: @Sendable () async -> Void
    private let lock = NSLock()
    private var opened: [any SQLDatabase] = []

    init(backend: Backend, url: String,
         open: @escaping @Sendable (OpenOptions) async throws -> any SQLDatabase,
         cleanup: @escaping @Sendable () async -> Void) {
        self.backend = backend
        self.url = url
        self.opener = open
        self.cleanup = cleanup
    }

    public func open(_ options: OpenOptions = OpenOptions()) async throws -> any SQLDatabase {
        let database = try await opener(options)
        lock.withLock { opened.append(database) }
        return database
    }

    public func open(poolSize: Int) async throws -> any SQLDatabase {
        try await open(OpenOptions(poolSize: poolSize))
    }

    public func tearDown() async {
        let all = lock.withLock {
            defer { opened = [] }
            return opened
        }
        for database in all { await database.close() }
        await cleanup()
    }
}

/// A new SQLite file in a folder of its own, removed at tear-down.
public enum SQLiteFixture {
    /// `parent`: where the folder is made (a test may pick a small file system).
    public static func makeStore(in parent: URL = FileManager.default.temporaryDirectory) throws -> TestStore {
        let directory = parent.appendingPathComponent("store-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("service.db").path
        return TestStore(
            backend: .sqlite, url: "sqlite://" + path,
            open: { options in
                var configuration = SQLiteDatabase.Configuration(path: path)
                if let timeout = options.lockTimeout { configuration.busyTimeout = timeout }
                return try SQLiteDatabase(configuration: configuration, logger: Logger(label: "test.sqlite"))
            },
            cleanup: { try? FileManager.default.removeItem(at: directory) })
    }
}

/// The test server (`POSTGRES_URL`, default the one `.ci/postgres.sh` makes): a new schema per
/// store, dropped at tear-down. A missing server is a failure that says how to get one, never a skip.
public enum PostgresFixture {
    public static var url: String {
        ProcessInfo.processInfo.environment["POSTGRES_URL"] ?? "postgres://saga:saga@127.0.0.1:5432/saga_test"
    }

    /// The server's URL with more query options.
    public static func url(query: String) -> String {
        url + (url.contains("?") ? "&" : "?") + query
    }

    public static func configuration() throws -> PostgresDatabase.Configuration {
        try PostgresDatabase.Configuration(url: url)
    }

    /// The test server's configuration with more query options, parsed as `DATABASE_URL` is.
    public static func configuration(query: String) throws -> PostgresDatabase.Configuration {
        try PostgresDatabase.Configuration(url: url(query: query))
    }

    public static func connectAdmin() async throws -> PostgresDatabase {
        var configuration = try configuration()
        configuration.poolSize = 1
        configuration.connectTimeout = .seconds(5)
        do {
            return try await PostgresDatabase.connect(configuration)
        } catch {
            let message = "PostgreSQL is required for these tests and is unreachable at \(configuration.endpoint): \(error). Run `.ci/postgres.sh` (as root) or set POSTGRES_URL."
            XCTFail(message)
            throw SQLError.configuration(message)
        }
    }

    /// A new, empty schema's name (`<prefix>_<random>`).
    public static func newSchemaName(_ prefix: String = "test") -> String {
        prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    }

    /// `schemaPrefix` names the schema after what uses it (seen in the server while a test runs).
    public static func makeStore(schemaPrefix: String = "test") async throws -> TestStore {
        let admin = try await connectAdmin()
        let schema = newSchemaName(schemaPrefix)
        try await admin.write { try $0.execute("CREATE SCHEMA \(schema)") }
        return TestStore(
            backend: .postgres, url: url(query: "search_path=\(schema)"),
            open: { options in
                var configuration = try options.urlQuery.map { try Self.configuration(query: $0) } ?? Self.configuration()
                configuration.searchPath = schema
                if let timeout = options.lockTimeout { configuration.lockTimeout = timeout }
                if let size = options.poolSize { configuration.poolSize = size }
                if let isolation = options.isolation { configuration.isolation = isolation }
                return try await PostgresDatabase.connect(configuration)
            },
            cleanup: {
                _ = try? await admin.write { try $0.execute("DROP SCHEMA \(schema) CASCADE") }
                await admin.close()
            })
    }
}

/// Runs `body` against a fresh store of each backend, migrated with `migrations`, and tears it
/// down afterwards.
public func forEachBackend(_ backends: [Backend] = Backend.allCases, migrations: [Migration],
                           _ body: (TestStore) async throws -> Void) async throws {
    for backend in backends {
        let store = try await backend.makeStore(migrations: migrations)
        do {
            try await body(store)
        } catch {
            await store.tearDown()
            XCTFail("[\(backend)] \(error)")
            throw error
        }
        await store.tearDown()
    }
}
