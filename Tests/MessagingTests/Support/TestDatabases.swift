import Foundation
import Logging
import Messaging
import Persistence
import XCTest

/// The backends every storage-touching test runs against.
enum Backend: String, CaseIterable, Sendable {
    case sqlite, postgres

    static var postgresURL: String {
        ProcessInfo.processInfo.environment["POSTGRES_URL"] ?? "postgres://saga:saga@127.0.0.1:5432/saga_test"
    }
}

/// A fresh, migrated store for one test: a new SQLite file, or a new PostgreSQL schema.
/// `url` opens the same store from another process (the harness).
final class TestStore: @unchecked Sendable {
    let backend: Backend
    let url: String
    private let cleanup: @Sendable () async -> Void
    private let lock = NSLock()
    private var opened: [any SQLDatabase] = []

    private init(backend: Backend, url: String, cleanup: @escaping @Sendable () async -> Void) {
        self.backend = backend
        self.url = url
        self.cleanup = cleanup
    }

    static func make(_ backend: Backend, migrations: [Migration] = MessagingSchema.migrations) async throws -> TestStore {
        let store: TestStore
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("messaging-tests-\(UUID().uuidString.prefix(8))", isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            store = TestStore(backend: backend, url: "sqlite://" + directory.appendingPathComponent("service.db").path,
                              cleanup: { try? FileManager.default.removeItem(at: directory) })
        case .postgres:
            let admin = try await connectAdmin()
            let schema = "msg_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            try await admin.write { try $0.execute("CREATE SCHEMA \(schema)") }
            let separator = Backend.postgresURL.contains("?") ? "&" : "?"
            store = TestStore(backend: backend, url: Backend.postgresURL + separator + "search_path=\(schema)",
                              cleanup: {
                                  _ = try? await admin.write { try $0.execute("DROP SCHEMA \(schema) CASCADE") }
                                  await admin.close()
                              })
        }
        let database = try await store.open()
        try await database.migrate(migrations)
        return store
    }

    private static func connectAdmin() async throws -> PostgresDatabase {
        var configuration = try PostgresDatabase.Configuration(url: Backend.postgresURL)
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

    /// Another handle on the same store (like another process would have).
    func open(poolSize: Int? = nil) async throws -> any SQLDatabase {
        var url = self.url
        if let poolSize, backend == .postgres { url += "&pool_size=\(poolSize)" }
        let database = try await openDatabase(url: url, logger: Logger(label: "test.db"))
        lock.withLock { opened.append(database) }
        return database
    }

    func tearDown() async {
        let all = lock.withLock {
            defer { opened = [] }
            return opened
        }
        for database in all { await database.close() }
        await cleanup()
    }
}

/// Runs `body` against a fresh store of each backend, tearing it down afterwards.
func forEachBackend(_ backends: [Backend] = Backend.allCases,
                    _ body: (TestStore) async throws -> Void) async throws {
    for backend in backends {
        let store = try await TestStore.make(backend)
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

struct TestTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` until it holds; fails after `timeout` (a bound, never a timing assertion).
func eventually(_ what: String, timeout: TimeInterval = 60, interval: Duration = .milliseconds(50),
                _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return }
        if Date() > deadline { throw TestTimeout(what: what) }
        try await Task.sleep(for: interval)
    }
}
