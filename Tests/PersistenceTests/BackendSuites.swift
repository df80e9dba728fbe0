import Foundation
import Logging
import NIOCore
@testable import Persistence
import StoreFixtures
import XCTest

/// Runs `Behaviour` against one backend; the subclasses below only pick the backend.
/// (XCTest discovery on Linux does not pick up inherited test methods reliably, hence the
/// explicit one-line forwards.)
class BackendSuite: XCTestCase {
    var backend: Backend { fatalError("subclass") }

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
    override var backend: Backend { .sqlite }

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

    // SQLite only.

    /// The database's clock is the boot's anchor plus monotonic time, whatever the opening
    /// process's own wall clock says: a second process opening the file (here: a second open
    /// after the anchor was moved, as if the boot's first opener's clock had been 10 minutes
    /// ahead) decides by the same clock.
    func testTheClockIsAnchoredOncePerBootInTheFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("persistence-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("clock.db").path
        let first = try SQLiteDatabase(configuration: .init(path: path))
        let now = try await first.read { try $0.databaseTimeMillis() }
        XCTAssertLessThan(abs(now - Int64(Date().timeIntervalSince1970 * 1000)), 1_000, "anchored to the wall clock by the first opener")
        try await first.write { try $0.execute("UPDATE database_clock SET offset_ms = offset_ms + 600000", []) }
        await first.close()
        let second = try SQLiteDatabase(configuration: .init(path: path))
        let later = try await second.read { try $0.databaseTimeMillis() }
        XCTAssertGreaterThanOrEqual(later - now, 600_000, "the file's anchor, not this process's wall clock")
        XCTAssertLessThan(later - now, 605_000)
        let anchors = try await second.read { try $0.query("SELECT COUNT(*) AS n FROM database_clock", []).first?.int("n") }
        XCTAssertEqual(anchors, 1)
        await second.close()
    }

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

    /// A full disk must look transient (the messaging runtime dead-letters on permanent errors):
    /// on a real, full file system a write fails with `.transient`, and once space is freed the
    /// same database takes writes again, intact.
    func testFullDiskIsTransientAndTheDatabaseRecovers() async throws {
        let disk = try TmpfsMount(sizeKiB: 2048, for: self)
        let store = try SQLiteFixture.makeStore(in: disk.path)
        do {
            let database = try await Behaviour.migrated(store)
            try await database.write { try $0.execute("INSERT INTO items (id, name) VALUES (1, 'before')") }
            let ballast = try disk.fill()
            let blob = SQLValue.blob([UInt8](repeating: 7, count: 512 * 1024))
            let error = await XCTAssertThrowsSQLError(
                try await database.write { try $0.execute("INSERT INTO items (id, name, data) VALUES (2, 'full', ?)", blob) },
                \.isTransient, "a write on a full disk")
            XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("SQLite code"), "\(String(describing: error))")
            print("[sqlite] full disk -> \(error.map { "\($0)" } ?? "none")")

            try FileManager.default.removeItem(at: ballast)
            try await database.write { try $0.execute("INSERT INTO items (id, name, data) VALUES (3, 'after', ?)", blob) }
            let check = try await database.read { try $0.query("PRAGMA integrity_check")[0].values[0] }
            XCTAssertEqual(check, .text("ok"))
            let names = try await database.read { c in
                try c.query("SELECT name FROM items ORDER BY id").compactMap { $0.string("name") }
            }
            XCTAssertEqual(names, ["before", "after"], "the failed write left nothing behind")
        } catch {
            await store.tearDown()
            throw error
        }
        await store.tearDown()
    }

    func testUnopenablePathIsAConfigurationError() async throws {
        let error = await XCTAssertThrowsSQLError(try await openDatabase(url: "sqlite:///proc/nope/order.db"),
                                                  \.isConfiguration)
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("DATABASE_URL"))
    }
}

final class PostgresBackendTests: BackendSuite {
    override var backend: Backend { .postgres }

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

    // PostgreSQL only.

    /// A connection reads the server's clock once and counts on from there by the monotonic clock:
    /// later reads, in that transaction and in the next ones, ask the server nothing (here the
    /// server would answer with a year-2000 `clock_timestamp()` shadowing the real one, first in
    /// one transaction, then for the whole session), yet go on with the time. Once the reading is
    /// `clock_reread_ms` old the next transaction asks the server again (and gets the shadow); with
    /// `clock_reread_ms=0` every transaction does.
    func testAConnectionReadsTheServersClockOnceAndCountsOnFromThere() async throws {
        try await run { store in
            let shadow = Int64(946_684_800_000)
            let schema = "clock_shadow_\(UInt32.random(in: 0...UInt32.max))"
            let setup = try await store.open()
            try await setup.write { connection in
                try connection.execute("CREATE SCHEMA \(schema)", [])
                try connection.execute("""
                    CREATE FUNCTION \(schema).clock_timestamp() RETURNS timestamptz LANGUAGE sql AS $$ SELECT timestamptz '2000-01-01 00:00:00+00' $$
                    """, [])
            }
            let wall = { Int64(Date().timeIntervalSince1970 * 1000) }

            // One connection, so every transaction below runs on the session that read the clock.
            let database = try await store.open(OpenOptions(poolSize: 1, urlQuery: "clock_reread_ms=1500"))
            let (first, second, shadowed) = try await database.write { connection in
                let first = try connection.databaseTimeMillis()
                try connection.execute("SET LOCAL search_path = \(schema), pg_catalog", [])
                let shadowed = try connection.query("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS now", []).first?.int("now")
                _ = try connection.query("SELECT pg_sleep(0.2)", [])
                return (first, try connection.databaseTimeMillis(), shadowed)
            }
            XCTAssertEqual(shadowed, shadow, "the shadow answers a query in that transaction")
            XCTAssertLessThan(abs(first - wall()), 60_000, "the first read is the server's clock")
            XCTAssertGreaterThanOrEqual(second - first, 195, "the second read counts on by the time that passed")
            XCTAssertLessThan(second - first, 5_000, "the second read is not the server's (shadowed) clock")

            // From here the shadow holds for the whole session: only a read of the server sees it.
            try await database.write { try $0.execute("SET search_path = \(schema), pg_catalog", []) }
            let next = try await database.write { try $0.databaseTimeMillis() }
            XCTAssertGreaterThanOrEqual(next, second, "the next transaction counts on from the connection's reading")
            XCTAssertLessThan(abs(next - wall()), 60_000, "the next transaction did not ask the server (it would get the year 2000)")
            try await Task.sleep(for: .milliseconds(1_600))
            let reread = try await database.write { try $0.databaseTimeMillis() }
            XCTAssertLessThan(abs(reread - shadow), 60_000, "a reading older than clock_reread_ms is taken again from the server")
            try await database.write { try $0.execute("RESET search_path", []) }

            let everyTime = try await store.open(OpenOptions(poolSize: 1, urlQuery: "clock_reread_ms=0"))
            _ = try await everyTime.write { try $0.databaseTimeMillis() }
            try await everyTime.write { try $0.execute("SET search_path = \(schema), pg_catalog", []) }
            let asked = try await everyTime.write { try $0.databaseTimeMillis() }
            XCTAssertLessThan(abs(asked - shadow), 60_000, "clock_reread_ms=0: every transaction asks the server")
            try await everyTime.write { try $0.execute("RESET search_path", []) }
            try await setup.write { try $0.execute("DROP SCHEMA \(schema) CASCADE", []) }
        }
    }

    /// `oneStatement` sends its statement without BEGIN: PostgreSQL runs `VACUUM`, which it refuses
    /// inside a transaction block, as `read` and `write` open one. The statement commits on its
    /// own, so a throw after it undoes nothing, and a second statement is refused before it is sent.
    func testOneStatementGoesOutWithoutBeginAndCommitsOnItsOwn() async throws {
        try await run { store in
            let database = try await Behaviour.migrated(store)
            _ = await XCTAssertThrowsSQLError(try await database.write { try $0.execute("VACUUM items") }, { _ in true }, "write: in a block")
            _ = await XCTAssertThrowsSQLError(try await database.read { try $0.execute("VACUUM items") }, { _ in true }, "read: in a block")
            for readOnly in [true, false] {
                try await database.oneStatement(readOnly: readOnly) { try $0.execute("VACUUM items") }
            }

            struct AfterTheStatement: Error {}
            do {
                try await database.oneStatement(readOnly: false) { connection in
                    try connection.execute("INSERT INTO items (id, name) VALUES (1, 'kept')")
                    throw AfterTheStatement()
                }
                XCTFail("the body's error is the call's")
            } catch is AfterTheStatement {}
            let kept = try await database.read { try $0.query("SELECT name FROM items WHERE id = 1").first?.string("name") }
            XCTAssertEqual(kept, "kept", "the statement committed on its own")

            _ = await XCTAssertThrowsSQLError(try await database.oneStatement(readOnly: false) { connection in
                try connection.execute("INSERT INTO items (id, name) VALUES (2, 'first')")
                try connection.execute("INSERT INTO items (id, name) VALUES (3, 'second')")
            }, \.isConfiguration, "a second statement")
            let ids = try await database.read { try $0.query("SELECT id FROM items ORDER BY id").compactMap { $0.int("id") } }
            XCTAssertEqual(ids, [1, 2], "the first went out and committed; the second was never sent")
        }
    }

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

    /// Every connection starts with the session limits and keepalives: the defaults, or what
    /// the URL says.
    func testSessionLimitsAndKeepalivesReachTheServer() async throws {
        try await run { store in
            func settings(_ database: any SQLDatabase) async throws -> [String] {
                try await database.read { c in
                    try c.query("""
                        SELECT current_setting('lock_timeout') AS a, current_setting('statement_timeout') AS b,
                               current_setting('idle_in_transaction_session_timeout') AS c,
                               current_setting('tcp_keepalives_idle') AS d, current_setting('tcp_keepalives_interval') AS e,
                               current_setting('tcp_keepalives_count') AS f
                        """)[0].values.map { value -> String in
                        if case .text(let text) = value { return text }
                        return "\(value)"
                    }
                }
            }
            let defaults = try await settings(try await store.open())
            XCTAssertEqual(defaults, ["5s", "30s", "10s", "15", "5", "3"])
            let custom = try await settings(try await store.open(OpenOptions(urlQuery: """
                lock_timeout_ms=1500&statement_timeout_ms=0&idle_in_transaction_timeout_ms=60000\
                &keepalives_idle=7&keepalives_interval=2&keepalives_count=4
                """)))
            XCTAssertEqual(custom, ["1500ms", "0", "1min", "7", "2", "4"])
        }
    }

    /// The client's own socket probes a silent server (postgres-nio sets no socket options).
    func testClientSocketsProbeASilentServer() async throws {
        _ = try await PostgresFixture.connectAdmin().close()
        var configuration = try PostgresFixture.configuration()
        configuration.keepalives = PostgresDatabase.Keepalives(idleSeconds: 11, intervalSeconds: 4, count: 5)
        func options(_ configuration: PostgresDatabase.Configuration) async throws -> [Int] {
            let channel = try await PGSettings(configuration: configuration, logger: Logger(label: "test")).openChannel().get()
            var values: [Int] = []
            for (level, name) in [(NIOBSDSocket.OptionLevel.socket, CInt(SO_KEEPALIVE)), (.tcp, CInt(TCP_KEEPIDLE)),
                                  (.tcp, CInt(TCP_KEEPINTVL)), (.tcp, CInt(TCP_KEEPCNT)), (.tcp, CInt(TCP_USER_TIMEOUT))] {
                values.append(try await channel.getOption(
                    ChannelOptions.Types.SocketOption(level: level, name: NIOBSDSocket.Option(rawValue: name))).get())
            }
            try await channel.close()
            return values
        }
        let probing = try await options(configuration)
        XCTAssertEqual(probing, [1, 11, 4, 5, 31_000], "SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT")
        configuration.keepalives = nil
        let off = try await options(configuration)
        XCTAssertEqual(off.first, 0, "keepalives=0 leaves SO_KEEPALIVE off")
    }

    /// A transaction blocked on a row lock gives up after lock_timeout (here from the URL) with
    /// a transient error.
    func testLockTimeoutEndsAWaitForARowLockTransiently() async throws {
        try await run { store in
            let holder = try await Behaviour.migrated(store)
            try await holder.write { try $0.execute("INSERT INTO items (id, name) VALUES (1, 'locked')") }
            let waiter = try await store.open(OpenOptions(urlQuery: "lock_timeout_ms=300"))
            let locked = Gate(), release = Gate()
            async let held: Void = holder.write { c in
                try c.execute("UPDATE items SET n = n + 1 WHERE id = 1")
                locked.open()
                try release.block()
            }
            do {
                try await locked.wait()
                let start = ContinuousClock.now
                let error = await XCTAssertThrowsSQLError(
                    try await waiter.write { try $0.execute("UPDATE items SET n = n + 10 WHERE id = 1") }, \.isTransient)
                let waited = ContinuousClock.now - start
                XCTAssertGreaterThanOrEqual(waited, .milliseconds(300), "waited for the lock first")
                XCTAssertLessThan(waited, .seconds(3), "gave up after lock_timeout")
                XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("55P03"), "\(String(describing: error))")
            } catch {
                release.open()
                try? await held
                throw error
            }
            release.open()
            try await held
        }
    }

    /// A statement over statement_timeout is cancelled transiently; the connection stays usable.
    func testStatementTimeoutIsTransientAndKeepsTheConnection() async throws {
        try await run { store in
            let database = try await store.open(OpenOptions(poolSize: 1, urlQuery: "statement_timeout_ms=200"))
            let pid = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid") }
            let start = ContinuousClock.now
            let error = await XCTAssertThrowsSQLError(try await database.write { _ = try $0.query("SELECT pg_sleep(20)") },
                                                      \.isTransient)
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(10), "cancelled by statement_timeout")
            XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("57014"), "\(String(describing: error))")
            let after = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid") }
            XCTAssertEqual(after, pid, "a cancelled statement does not cost the connection")
        }
    }

    /// A statement's reply is not kept once it is read: 20,000 statements on one connection
    /// leave the process's resident memory where it was. (Each wait once left a callback, with
    /// its reply, on the connection's close future until the connection closed: every service
    /// on PostgreSQL grew with every statement it ran.)
    func testRepliesAreNotKeptOnceRead() async throws {
        try await run { store in
            let database = try await store.open(OpenOptions(poolSize: 1))
            let statements = { @Sendable (count: Int) async throws in
                for _ in 0..<(count / 1000) {
                    try await database.read { c in
                        for n in 0..<1000 { _ = try c.query("SELECT ? AS n, repeat('x', 200) AS padding", .integer(Int64(n))) }
                    }
                }
            }
            try await statements(5_000)  // warm-up: caches, buffers, malloc's arenas
            let before = try Self.residentBytes()
            try await statements(20_000)
            let grown = try Self.residentBytes() - before
            XCTAssertLessThan(grown, 8 << 20, "resident memory grew by \(grown >> 10) KiB over 20,000 statements")
        }
    }

    static func residentBytes() throws -> Int {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A body that stalls inside its transaction past idle_in_transaction_session_timeout: the
    /// server ends the session (25P03, FATAL) and with it the locks it held; the body's next
    /// statement fails transiently, and the next transaction runs on a new connection.
    func testIdleInTransactionTimeoutEndsTheSessionAndItsLocks() async throws {
        try await run { store in
            let database = try await Behaviour.migrated(store, OpenOptions(poolSize: 1, urlQuery: "idle_in_transaction_timeout_ms=300"))
            try await database.write { try $0.execute("INSERT INTO items (id, name) VALUES (1, 'a')") }
            let other = try await store.open(OpenOptions(lockTimeout: .seconds(5), poolSize: 1))
            let backend = Handed<Int64>()
            let inside = Gate(), resume = Gate()
            async let stalled: Void = database.write { c in
                try c.execute("UPDATE items SET n = n + 1 WHERE id = 1")
                backend.value = try c.query("SELECT pg_backend_pid() AS pid")[0].int("pid")
                inside.open()
                try resume.block(timeout: 60)
                try c.execute("UPDATE items SET n = n + 100 WHERE id = 1")
            }
            do {
                try await inside.wait()
                let pid = try XCTUnwrap(backend.value)
                try await eventually("the server to end the idle session \(pid)") {
                    try await other.read { c in
                        try c.query("SELECT count(*) AS c FROM pg_stat_activity WHERE pid = ?", .integer(pid))[0].int("c") == 0
                    }
                }
                // The row lock ended with the session: another connection takes the row at once.
                try await other.write { try $0.execute("UPDATE items SET n = n + 10 WHERE id = 1") }
            } catch {
                resume.open()
                try? await stalled
                throw error
            }
            resume.open()
            do {
                try await stalled
                XCTFail("the stalled transaction must fail")
            } catch let error as SQLError {
                XCTAssertTrue(error.isTransient, "\(error)")
                print("[postgres] idle in transaction -> \(error)")
            }
            let newPid = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid") }
            XCTAssertNotEqual(newPid, backend.value, "a new connection")
            try await database.write { try $0.execute("UPDATE items SET n = n + 1000 WHERE id = 1") }
            let n = try await database.read { try $0.query("SELECT n FROM items WHERE id = 1")[0].int("n") }
            XCTAssertEqual(n, 1010, "the stalled transaction's update was rolled back")
        }
    }

    /// Instances starting together wait for each other's migrations, past lock_timeout.
    func testMigrationWaitsForAnotherMigrationBeyondLockTimeout() async throws {
        try await run { store in
            let holder = try await store.open(OpenOptions(poolSize: 1))
            let observer = try await store.open(OpenOptions(poolSize: 1))
            let migrating = try await store.open(OpenOptions(lockTimeout: .milliseconds(100), poolSize: 1))
            let pid = try await migrating.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid") ?? 0 }
            let locked = Gate(), release = Gate()
            // The lock another instance's migration holds while it runs.
            async let held: Void = holder.write { c in
                _ = try c.query("SELECT pg_advisory_xact_lock(hashtext('schema_migrations:' || coalesce(current_schema(), '')))")
                locked.open()
                try release.block(timeout: 60)
            }
            do {
                try await locked.wait()
                async let migrated: Void = migrating.migrate([Behaviour.items])
                do {
                    try await eventually("the migration to wait for the lock three times its lock_timeout") {
                        try await observer.read { c in
                            try c.query("""
                                SELECT count(*) AS c FROM pg_stat_activity
                                WHERE pid = ? AND wait_event_type = 'Lock' AND wait_event = 'advisory'
                                  AND clock_timestamp() - query_start > interval '300 milliseconds'
                                """, .integer(pid))[0].int("c") == 1
                        }
                    }
                } catch {
                    release.open()
                    try? await migrated
                    throw error
                }
                release.open()
                try await migrated
            } catch {
                release.open()
                try? await held
                throw error
            }
            try await held
            let count = try await Behaviour.count(migrating)
            XCTAssertEqual(count, 0, "the migration ran once the lock was free")
        }
    }

    /// The workers carry their names in the kernel, so a profile and the cost benchmark's thread
    /// table count them apart from Swift's pool (a pool thread's name is what they had before).
    func testWorkerThreadsAreNamedInTheKernel() async throws {
        var configuration = try PostgresFixture.configuration()
        configuration.poolSize = 2
        let database = try await PostgresDatabase.connect(configuration)
        // A transaction on each worker at once: both threads have run and named themselves.
        do {
            async let first: Void = database.write { _ = try $0.query("SELECT pg_sleep(0.2)") }
            async let second: Void = database.write { _ = try $0.query("SELECT pg_sleep(0.2)") }
            _ = try await (first, second)
        } catch {
            await database.close()
            throw error
        }
        // Read while the workers run: closing the database ends their threads.
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        let names = tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        await database.close()
        XCTAssertTrue(names.contains("pg-worker-0") && names.contains("pg-worker-1"), "thread names: \(names.sorted())")
    }

    func testUnreachableServerSaysWhatToFix() async throws {
        var configuration = try PostgresFixture.configuration()
        configuration.port = 1
        configuration.connectTimeout = .seconds(2)
        let error = await XCTAssertThrowsSQLError(try await PostgresDatabase.connect(configuration), { _ in true })
        let text = "\(error.map { "\($0)" } ?? "")"
        XCTAssertTrue(text.contains("cannot connect to PostgreSQL at \(configuration.host):1"), text)
        XCTAssertTrue(text.contains("is the server running? set DATABASE_URL"), text)
    }

    func testWrongPasswordAndMissingDatabaseSayWhatToFix() async throws {
        _ = try await PostgresFixture.connectAdmin().close()
        var configuration = try PostgresFixture.configuration()
        configuration.password = "definitely-wrong"
        var error = await XCTAssertThrowsSQLError(try await PostgresDatabase.connect(configuration), \.isConfiguration)
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("check the user and password"), "\(String(describing: error))")
        XCTAssertFalse("\(error.map { "\($0)" } ?? "")".contains("definitely-wrong"), "no password in messages")

        configuration = try PostgresFixture.configuration()
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
        _ = try await PostgresFixture.connectAdmin().close()
        let database = try await openDatabase(url: PostgresFixture.url + "?pool_size=2&application_name=persistence-tests")
        XCTAssertEqual(database.dialect, .postgres)
        let name = try await database.read { try $0.query("SELECT current_setting('application_name') AS a")[0].string("a") }
        XCTAssertEqual(name, "persistence-tests")
        await database.close()
    }
}
