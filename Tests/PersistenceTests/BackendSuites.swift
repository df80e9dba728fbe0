import Foundation
import Persistence
import XCTest

/// Runs `Behaviour` against one backend; the subclasses below only pick the backend.
/// (XCTest discovery on Linux does not pick up inherited test methods reliably, hence the
/// explicit one-line forwards.)
class BackendSuite: XCTestCase {
    var backend: any TestBackend { fatalError("subclass") }

    func run(_ check: (TestStore) async throws -> Void) async throws {
        let store = try await backend.makeStore()
        do {
            try await check(store)
        } catch {
            await store.tearDown()
            throw error
        }
        await store.tearDown()
    }
}

final class SQLiteBackendTests: BackendSuite {
    override var backend: any TestBackend { SQLiteTestBackend() }

    func testMigrationsApplyOnceAndAreIdempotent() async throws { try await run(Behaviour.migrationsApplyOnceAndAreIdempotent) }
    func testFailedMigrationRollsBackAndIsNotRecorded() async throws { try await run(Behaviour.failedMigrationRollsBackAndIsNotRecorded) }
    func testWriteCommitsAndReadSeesIt() async throws { try await run(Behaviour.writeCommitsAndReadSeesIt) }
    func testThrowRollsBack() async throws { try await run(Behaviour.throwRollsBack) }
    func testPipelinedStatementsCommitAndFailLikeOthers() async throws { try await run(Behaviour.pipelinedStatementsCommitAndFailLikeOthers) }
    func testReadIsConsistentSnapshotAndReadOnly() async throws { try await run(Behaviour.readIsConsistentSnapshotAndReadOnly) }
    func testConnectionIsInvalidAfterItsBody() async throws { try await run(Behaviour.connectionIsInvalidAfterItsBody) }
    func testOnConflictAndReturning() async throws { try await run(Behaviour.onConflictAndReturning) }
    func testValuesRoundTrip() async throws { try await run(Behaviour.valuesRoundTrip) }
    func testPlaceholdersInsideLiteralsAreUntouched() async throws { try await run(Behaviour.placeholdersInsideLiteralsAreUntouched) }
    func testConcurrentConditionalUpdateHasOneWinner() async throws { try await run(Behaviour.concurrentConditionalUpdateHasOneWinner) }
    func testConcurrentIncrementsLoseNoUpdate() async throws { try await run(Behaviour.concurrentIncrementsLoseNoUpdate) }
    func testLockConflictIsTransient() async throws { try await run(Behaviour.lockConflictIsTransient) }
    func testCloseThenUseFailsClearly() async throws { try await run(Behaviour.closeThenUseFailsClearly) }
    func testThroughput() async throws { try await run(Benchmarks.throughput) }

    // SQLite only.

    func testPragmasAndDurabilityOption() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("persistence-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("nested/dir/order.db").path

        let normal = try await openDatabase(url: "sqlite://\(path)")
        let pragmas = try await normal.write { c in
            (try c.query("PRAGMA journal_mode")[0].values[0], try c.query("PRAGMA synchronous")[0].values[0],
             try c.query("PRAGMA busy_timeout")[0].values[0], try c.query("PRAGMA foreign_keys")[0].values[0])
        }
        XCTAssertEqual(pragmas.0, .text("wal"))
        XCTAssertEqual(pragmas.1, .integer(1), "synchronous=NORMAL")
        XCTAssertEqual(pragmas.2, .integer(5000))
        XCTAssertEqual(pragmas.3, .integer(1))
        await normal.close()

        let full = try await openDatabase(url: "sqlite://\(path)?synchronous=full&busy_timeout_ms=250")
        let fullPragmas = try await full.write { c in
            (try c.query("PRAGMA synchronous")[0].values[0], try c.query("PRAGMA busy_timeout")[0].values[0])
        }
        XCTAssertEqual(fullPragmas.0, .integer(2), "synchronous=FULL")
        XCTAssertEqual(fullPragmas.1, .integer(250))
        await full.close()

        let plain = try await openDatabase(url: path)
        XCTAssertEqual(plain.dialect, .sqlite)
        await plain.close()
    }

    func testTemporaryDatabaseIsDeletedOnClose() async throws {
        let database = try SQLiteDatabase.temporary()
        try await database.migrate([Behaviour.items])
        XCTAssertTrue(FileManager.default.fileExists(atPath: database.path))
        await database.close()
        XCTAssertFalse(FileManager.default.fileExists(atPath: database.path))

        let memory = try await openDatabase(url: "sqlite::memory:")
        try await memory.migrate([Behaviour.items])
        await memory.close()
    }

    func testUnopenablePathIsAConfigurationError() async throws {
        let error = await XCTAssertThrowsSQLError(try await openDatabase(url: "sqlite:///proc/nope/order.db"),
                                                  \.isConfiguration)
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("DATABASE_URL"))
    }
}

final class PostgresBackendTests: BackendSuite {
    override var backend: any TestBackend { PostgresTestBackend() }

    func testMigrationsApplyOnceAndAreIdempotent() async throws { try await run(Behaviour.migrationsApplyOnceAndAreIdempotent) }
    func testFailedMigrationRollsBackAndIsNotRecorded() async throws { try await run(Behaviour.failedMigrationRollsBackAndIsNotRecorded) }
    func testWriteCommitsAndReadSeesIt() async throws { try await run(Behaviour.writeCommitsAndReadSeesIt) }
    func testThrowRollsBack() async throws { try await run(Behaviour.throwRollsBack) }
    func testPipelinedStatementsCommitAndFailLikeOthers() async throws { try await run(Behaviour.pipelinedStatementsCommitAndFailLikeOthers) }
    func testReadIsConsistentSnapshotAndReadOnly() async throws { try await run(Behaviour.readIsConsistentSnapshotAndReadOnly) }
    func testConnectionIsInvalidAfterItsBody() async throws { try await run(Behaviour.connectionIsInvalidAfterItsBody) }
    func testOnConflictAndReturning() async throws { try await run(Behaviour.onConflictAndReturning) }
    func testValuesRoundTrip() async throws { try await run(Behaviour.valuesRoundTrip) }
    func testPlaceholdersInsideLiteralsAreUntouched() async throws { try await run(Behaviour.placeholdersInsideLiteralsAreUntouched) }
    func testConcurrentConditionalUpdateHasOneWinner() async throws { try await run(Behaviour.concurrentConditionalUpdateHasOneWinner) }
    func testConcurrentIncrementsLoseNoUpdate() async throws { try await run(Behaviour.concurrentIncrementsLoseNoUpdate) }
    func testLockConflictIsTransient() async throws { try await run(Behaviour.lockConflictIsTransient) }
    func testCloseThenUseFailsClearly() async throws { try await run(Behaviour.closeThenUseFailsClearly) }
    func testThroughput() async throws { try await run(Benchmarks.throughput) }

    // PostgreSQL only.

    /// Write skew under SERIALIZABLE: the second committer gets 40001, mapped to `.transient`.
    func testSerializationFailureIsTransient() async throws {
        try await run { store in
            let database = try await Behaviour.migrated(store, OpenOptions(poolSize: 2, isolation: .serializable))
            try await database.write { try $0.execute("INSERT INTO items (id, name, n) VALUES (1, 'a', 1)") }
            let firstRead = Gate(), secondRead = Gate(), firstDone = Gate()
            async let first: Void = database.write { c in
                _ = try c.query("SELECT sum(n) AS s FROM items")
                firstRead.open()
                try secondRead.block()
                try c.execute("INSERT INTO items (id, name, n) VALUES (2, 'b', 1)")
            }
            async let second: Void = database.write { c in
                try firstRead.block()
                _ = try c.query("SELECT sum(n) AS s FROM items")
                secondRead.open()
                try firstDone.block()
                try c.execute("INSERT INTO items (id, name, n) VALUES (3, 'c', 1)")
            }
            try await first
            firstDone.open()
            do {
                try await second
                XCTFail("the second committer of a write skew must fail under SERIALIZABLE")
            } catch let error as SQLError {
                XCTAssertTrue(error.isTransient, "\(error)")
                XCTAssertTrue("\(error)".contains("40001"), "\(error)")
            }
        }
    }

    /// A body that swallows a statement error and returns normally must not look committed.
    func testAbortedTransactionDoesNotCommit() async throws {
        try await run { store in
            let database = try await Behaviour.migrated(store)
            try await database.write { try $0.execute("INSERT INTO items (id, name) VALUES (1, 'a')") }
            _ = await XCTAssertThrowsSQLError(try await database.write { c in
                try c.execute("INSERT INTO items (id, name) VALUES (2, 'b')")
                _ = try? c.execute("INSERT INTO items (id, name) VALUES (1, 'duplicate')")
            }, \.isPermanent)
            let count = try await Behaviour.count(database)
            XCTAssertEqual(count, 1)
            // Likewise a read (whose COMMIT is otherwise not waited for).
            _ = await XCTAssertThrowsSQLError(try await database.read { c in
                _ = try? c.query("SELECT no_such_column FROM items")
            }, \.isPermanent)
        }
    }

    /// A connection killed by the server is replaced; at most the transaction that meets the
    /// dead connection fails, and transiently.
    func testLostConnectionIsTransientAndReplaced() async throws {
        try await run { store in
            let database = try await Behaviour.migrated(store, OpenOptions(poolSize: 1))
            let pid = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid")! }
            let admin = try await store.open(OpenOptions(poolSize: 1))
            _ = try await admin.write { try $0.query("SELECT pg_terminate_backend(?::int)", .integer(pid)) }
            var failures: [SQLError] = []
            for attempt in 0..<3 {
                do {
                    try await database.write { try $0.execute("INSERT INTO items (id, name) VALUES (?, 'after')", .integer(Int64(attempt))) }
                    break
                } catch let error as SQLError {
                    XCTAssertTrue(error.isTransient, "\(error)")
                    failures.append(error)
                }
            }
            XCTAssertLessThanOrEqual(failures.count, 1, "\(failures)")
            let newPid = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid")! }
            XCTAssertNotEqual(newPid, pid)
            let count = try await Behaviour.count(database)
            XCTAssertEqual(count, 1)
        }
    }

    func testUnreachableServerSaysWhatToFix() async throws {
        var configuration = try PostgresTestBackend.configuration()
        configuration.port = 1
        configuration.connectTimeout = .seconds(2)
        let error = await XCTAssertThrowsSQLError(try await PostgresDatabase.connect(configuration), { _ in true })
        let text = "\(error.map { "\($0)" } ?? "")"
        XCTAssertTrue(text.contains("cannot connect to PostgreSQL at \(configuration.host):1"), text)
        XCTAssertTrue(text.contains("is the server running? set DATABASE_URL"), text)
    }

    func testWrongPasswordAndMissingDatabaseSayWhatToFix() async throws {
        _ = try await PostgresTestBackend.connectAdmin().close()
        var configuration = try PostgresTestBackend.configuration()
        configuration.password = "definitely-wrong"
        var error = await XCTAssertThrowsSQLError(try await PostgresDatabase.connect(configuration), \.isConfiguration)
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("check the user and password"), "\(String(describing: error))")
        XCTAssertFalse("\(error.map { "\($0)" } ?? "")".contains("definitely-wrong"), "no password in messages")

        configuration = try PostgresTestBackend.configuration()
        configuration.database = "no_such_database_here"
        error = await XCTAssertThrowsSQLError(try await PostgresDatabase.connect(configuration), \.isConfiguration)
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("does not exist"), "\(String(describing: error))")
    }

    /// Types outside the contract still come back usefully (numbers as integers, the rest as text).
    func testOtherColumnTypesDecodeSensibly() async throws {
        try await run { store in
            let database = try await store.open()
            let row = try await database.read { c in
                try c.query("""
                    SELECT 1::int2 AS i2, 2::int4 AS i4, count(*) AS i8, true AS b, 1.5::float8 AS f,
                           12.340::numeric AS num, '{"a": 1}'::jsonb AS j, 'x'::varchar(5) AS v, 'y'::char(2) AS ch,
                           NULL::bigint AS nothing, '2024-01-02T03:04:05.678Z'::timestamptz AS ts
                    FROM (VALUES (1)) AS one
                    """)[0]
            }
            XCTAssertEqual(row.values[0...3], [.integer(1), .integer(2), .integer(1), .integer(1)])
            XCTAssertEqual(row["f"], .text("1.5"))
            XCTAssertEqual(row["num"], .text("12.340"))
            XCTAssertEqual(row["j"], .text(#"{"a": 1}"#))
            XCTAssertEqual(row["v"], .text("x"))
            XCTAssertEqual(row["ch"], .text("y "))
            XCTAssertEqual(row["nothing"], .null)
            XCTAssertEqual(row["ts"], .text("2024-01-02T03:04:05.678Z"))
        }
    }

    func testOpenDatabaseFromURL() async throws {
        _ = try await PostgresTestBackend.connectAdmin().close()
        let database = try await openDatabase(url: PostgresTestBackend.url + "?pool_size=2&application_name=persistence-tests")
        XCTAssertEqual(database.dialect, .postgres)
        let name = try await database.read { try $0.query("SELECT current_setting('application_name') AS a")[0].string("a") }
        XCTAssertEqual(name, "persistence-tests")
        await database.close()
    }
}
