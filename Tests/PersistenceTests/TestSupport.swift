import Foundation
import Logging
import Persistence
import XCTest

/// One backend under test. Each test gets a fresh, isolated store: a new SQLite file, or a new
/// PostgreSQL schema (search_path) in the test database.
protocol TestBackend: Sendable {
    var name: String { get }
    /// Prepares an empty store; every `open` then connects to that same store (like another process would).
    func makeStore() async throws -> TestStore
}

/// Options a test may need for a handle; mapped to what each backend offers.
struct OpenOptions: Sendable {
    /// SQLite: busy timeout. PostgreSQL: lock_timeout.
    var lockTimeout: Duration?
    /// PostgreSQL: connections in the pool. Ignored by SQLite.
    var poolSize: Int?
    /// PostgreSQL only.
    var isolation: PostgresDatabase.IsolationLevel?

    init(lockTimeout: Duration? = nil, poolSize: Int? = nil, isolation: PostgresDatabase.IsolationLevel? = nil) {
        self.lockTimeout = lockTimeout
        self.poolSize = poolSize
        self.isolation = isolation
    }
}

final class TestStore: @unchecked Sendable {
    let backend: String
    private let opener: @Sendable (OpenOptions) async throws -> any SQLDatabase
    private let cleanup: @Sendable () async -> Void
    private let lock = NSLock()
    private var opened: [any SQLDatabase] = []

    init(backend: String,
         open: @escaping @Sendable (OpenOptions) async throws -> any SQLDatabase,
         cleanup: @escaping @Sendable () async -> Void) {
        self.backend = backend
        self.opener = open
        self.cleanup = cleanup
    }

    func open(_ options: OpenOptions = OpenOptions()) async throws -> any SQLDatabase {
        let database = try await opener(options)
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

struct SQLiteTestBackend: TestBackend {
    let name = "sqlite"

    func makeStore() async throws -> TestStore {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("persistence-tests-\(UUID().uuidString)", isDirectory: true)
        let path = directory.appendingPathComponent("service.db").path
        return TestStore(
            backend: name,
            open: { options in
                var configuration = SQLiteDatabase.Configuration(path: path)
                if let timeout = options.lockTimeout { configuration.busyTimeout = timeout }
                return try SQLiteDatabase(configuration: configuration)
            },
            cleanup: { try? FileManager.default.removeItem(at: directory) })
    }
}

struct PostgresTestBackend: TestBackend {
    let name = "postgres"

    static var url: String {
        ProcessInfo.processInfo.environment["POSTGRES_URL"] ?? "postgres://saga:saga@127.0.0.1:5432/saga_test"
    }

    static func configuration() throws -> PostgresDatabase.Configuration {
        try PostgresDatabase.Configuration(url: url)
    }

    /// Never skips: a missing server is a failure that says how to get one.
    static func connectAdmin() async throws -> PostgresDatabase {
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

    func makeStore() async throws -> TestStore {
        let admin = try await Self.connectAdmin()
        let schema = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await admin.write { try $0.execute("CREATE SCHEMA \(schema)") }
        return TestStore(
            backend: name,
            open: { options in
                var configuration = try Self.configuration()
                configuration.searchPath = String(schema)
                configuration.lockTimeout = options.lockTimeout
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

/// A one-shot signal between a transaction body (blocking is fine on the backend's thread) and
/// the async test (which must not block the cooperative pool).
final class Gate: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func open() { semaphore.signal() }

    /// Blocking wait, for transaction bodies.
    func block(timeout: TimeInterval = 10) throws {
        if semaphore.wait(timeout: .now() + timeout) == .timedOut {
            throw TestTimeout()
        }
    }

    /// Async wait, for test code.
    func wait(timeout: TimeInterval = 10) async throws {
        let semaphore = self.semaphore
        let ok = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            DispatchQueue.global().async {
                continuation.resume(returning: semaphore.wait(timeout: .now() + timeout) == .success)
            }
        }
        if !ok { throw TestTimeout() }
    }
}

struct TestTimeout: Error {}

/// Lets a test smuggle a connection out of its body to check that later use is refused.
final class Escaped: @unchecked Sendable {
    var connection: SQLConnection?
}

func XCTAssertThrowsSQLError<T>(
    _ expression: @autoclosure () async throws -> T,
    _ check: (SQLError) -> Bool,
    _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) async -> SQLError? {
    do {
        _ = try await expression()
        XCTFail("expected an SQLError, got success. \(message)", file: file, line: line)
        return nil
    } catch let error as SQLError {
        XCTAssertTrue(check(error), "unexpected SQLError: \(error). \(message)", file: file, line: line)
        return error
    } catch {
        XCTFail("expected an SQLError, got \(type(of: error)): \(error). \(message)", file: file, line: line)
        return nil
    }
}

extension SQLError {
    var isPermanent: Bool {
        if case .permanent = self { return true }
        return false
    }

    var isConfiguration: Bool {
        if case .configuration = self { return true }
        return false
    }
}
