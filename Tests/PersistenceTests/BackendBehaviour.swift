import Foundation
import Persistence
import StoreFixtures
import XCTest

/// The behaviour every backend must have, written once. `SQLiteBackendTests` and
/// `PostgresBackendTests` run each check against their backend.
enum Behaviour {
    static let items = Migration(
        id: "001_items",
        sqlite: ["""
            CREATE TABLE items (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'PENDING',
                n BIGINT NOT NULL DEFAULT 0,
                data BLOB
            )
            """],
        postgres: ["""
            CREATE TABLE items (
                id BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                state TEXT NOT NULL DEFAULT 'PENDING',
                n BIGINT NOT NULL DEFAULT 0,
                data BYTEA
            )
            """])

    static func migrated(_ store: TestStore, _ options: OpenOptions = OpenOptions()) async throws -> any SQLDatabase {
        let database = try await store.open(options)
        try await database.migrate([items])
        return database
    }

    static func count(_ database: any SQLDatabase, _ table: String = "items") async throws -> Int64 {
        try await database.read { try $0.query("SELECT count(*) AS c FROM \(table)")[0].int("c") ?? -1 }
    }

    static func appliedMigrations(_ database: any SQLDatabase) async throws -> [String] {
        try await database.read { c in
            try c.query("SELECT id FROM schema_migrations ORDER BY id").compactMap { $0.string("id") }
        }
    }

    // MARK: Migrations

    static func migrationsApplyOnceAndAreIdempotent(_ store: TestStore) async throws {
        let database = try await store.open()
        let seed = Migration(id: "002_seed", both: ["INSERT INTO items (id, name) VALUES (1, 'seed')"])
        try await database.migrate([items, seed])
        try await database.migrate([items, seed])
        var total = try await count(database)
        XCTAssertEqual(total, 1)
        var applied = try await appliedMigrations(database)
        XCTAssertEqual(applied, ["001_items", "002_seed"])

        let third = Migration(id: "003_more", both: ["INSERT INTO items (id, name) VALUES (2, 'more')"])
        try await database.migrate([items, seed, third])
        total = try await count(database)
        XCTAssertEqual(total, 2)

        // Two handles (as two processes would) migrating at once: each migration still runs once.
        let other = try await store.open()
        let all = [items, seed, third,
                   Migration(id: "004_again", both: ["INSERT INTO items (id, name) VALUES (3, 'again')"]),
                   Migration(id: "005_again", both: ["INSERT INTO items (id, name) VALUES (4, 'again')"])]
        async let first: Void = database.migrate(all)
        async let second: Void = other.migrate(all)
        _ = try await (first, second)
        total = try await count(database)
        XCTAssertEqual(total, 4)
        applied = try await appliedMigrations(other)
        XCTAssertEqual(applied, ["001_items", "002_seed", "003_more", "004_again", "005_again"])
    }

    static func failedMigrationRollsBackAndIsNotRecorded(_ store: TestStore) async throws {
        let database = try await store.open()
        let bad = Migration(id: "002_bad", both: [
            "CREATE TABLE partial (id BIGINT)",
            "INSERT INTO no_such_table VALUES (1)",
        ])
        let error = await XCTAssertThrowsSQLError(try await database.migrate([items, bad]), \.isConfiguration)
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("002_bad"), "the error names the migration")
        let applied = try await appliedMigrations(database)
        XCTAssertEqual(applied, ["001_items"])
        _ = await XCTAssertThrowsSQLError(try await count(database, "partial"), \.isPermanent,
                                          "the failed migration's first statement was rolled back")

        let fixed = Migration(id: "002_bad", both: ["CREATE TABLE partial (id BIGINT)"])
        try await database.migrate([items, fixed])
        let partial = try await count(database, "partial")
        XCTAssertEqual(partial, 0)

        _ = await XCTAssertThrowsSQLError(
            try await database.migrate([items, Migration(id: "001_items", both: [])]), \.isConfiguration,
            "duplicate ids are refused")
    }

    // MARK: Transactions

    static func writeCommitsAndReadSeesIt(_ store: TestStore) async throws {
        let database = try await migrated(store)
        let changed = try await database.write { c in
            try c.execute("INSERT INTO items (id, name, n) VALUES (?, ?, ?)", 1, "first", 42)
                + c.execute("INSERT INTO items (id, name, n) VALUES (?, ?, ?)", 2, "second", -7)
        }
        XCTAssertEqual(changed, 2)
        let rows = try await database.read { try $0.query("SELECT id, name, n, state FROM items ORDER BY id") }
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0].columns, ["id", "name", "n", "state"])
        XCTAssertEqual(rows[0].values, [.integer(1), .text("first"), .integer(42), .text("PENDING")])
        XCTAssertEqual(rows[1].int("n"), -7)
        XCTAssertEqual(rows[1]["missing"], .null)

        // The same statement text again (cached statement / rewritten SQL reuse).
        let updated = try await database.write { c in
            try c.execute("UPDATE items SET n = n + ? WHERE id = ?", 1, 1)
                + c.execute("UPDATE items SET n = n + ? WHERE id = ?", 1, 1)
                + c.execute("UPDATE items SET n = n + ? WHERE id = ?", 1, 99)
        }
        XCTAssertEqual(updated, 2)
        let selectChanges = try await database.write { try $0.execute("SELECT * FROM items") }
        XCTAssertEqual(selectChanges, 0, "a SELECT changes no rows")
        let deleted = try await database.write { try $0.execute("DELETE FROM items WHERE id >= ?", 2) }
        XCTAssertEqual(deleted, 1)
    }

    struct Boom: Error {}

    static func throwRollsBack(_ store: TestStore) async throws {
        let database = try await migrated(store)
        do {
            try await database.write { c in
                try c.execute("INSERT INTO items (id, name) VALUES (?, ?)", 1, "doomed")
                throw Boom()
            }
            XCTFail("the body's error must propagate")
        } catch is Boom {
            // The caller's own error comes back unchanged.
        }
        var total = try await count(database)
        XCTAssertEqual(total, 0)

        // A failing statement (constraint) is permanent and undoes the statements before it.
        try await database.write { try $0.execute("INSERT INTO items (id, name) VALUES (5, 'kept')") }
        _ = await XCTAssertThrowsSQLError(try await database.write { c in
            try c.execute("INSERT INTO items (id, name) VALUES (6, 'undone')")
            try c.execute("INSERT INTO items (id, name) VALUES (5, 'duplicate')")
        }, \.isPermanent)
        total = try await count(database)
        XCTAssertEqual(total, 1)
        _ = await XCTAssertThrowsSQLError(
            try await database.write { try $0.execute("INSERT INTO items (id) VALUES (7)") }, \.isPermanent,
            "NOT NULL violation")
    }

    /// `executePipelined`: the statements take effect with the transaction, and a failing one
    /// fails the transaction with its own error (not "transaction aborted"), at the next
    /// statement or at COMMIT, undoing everything before it.
    static func pipelinedStatementsCommitAndFailLikeOthers(_ store: TestStore) async throws {
        let database = try await migrated(store)
        try await database.write { c in
            try c.executePipelined("INSERT INTO items (id, name) VALUES (?, ?)", [1, "a"])
            try c.executePipelined("UPDATE items SET n = n + 1 WHERE id = ?", [1])
            // A statement that waits sees the pipelined ones' effects.
            XCTAssertEqual(try c.query("SELECT n FROM items WHERE id = 1").first?.int("n"), 1)
            try c.executePipelined("UPDATE items SET n = n + 1 WHERE id = ?", [1])
        }
        let n = try await database.read { try $0.query("SELECT n FROM items WHERE id = 1").first?.int("n") }
        XCTAssertEqual(n, 2)

        // Failing last: surfaces at COMMIT; the statements before it are undone.
        var error = await XCTAssertThrowsSQLError(try await database.write { c in
            try c.execute("INSERT INTO items (id, name) VALUES (2, 'undone')")
            try c.executePipelined("INSERT INTO items (id, name) VALUES (1, 'duplicate')", [])
        }, \.isPermanent)
        XCTAssertTrue(error.map { "\($0)" }?.lowercased().contains("unique") ?? false,
                      "the unique violation itself is reported: \(String(describing: error))")

        // Failing in the middle: the next statement reports the cause, not the aborted transaction.
        error = await XCTAssertThrowsSQLError(try await database.write { c in
            try c.executePipelined("INSERT INTO items (id) VALUES (3)", [])
            try c.execute("INSERT INTO items (id, name) VALUES (4, 'never')")
        }, \.isPermanent)
        XCTAssertTrue(error.map { "\($0)" }?.lowercased().contains("null") ?? false,
                      "the NOT NULL violation itself is reported: \(String(describing: error))")
        var total = try await count(database)
        XCTAssertEqual(total, 1)

        // The connection is fine afterwards.
        try await database.write { try $0.executePipelined("INSERT INTO items (id, name) VALUES (5, 'e')", []) }
        total = try await count(database)
        XCTAssertEqual(total, 2)
    }

    static func readIsConsistentSnapshotAndReadOnly(_ store: TestStore) async throws {
        let database = try await migrated(store)
        try await database.write { try $0.execute("INSERT INTO items (id, name) VALUES (1, 'a')") }
        let started = Gate(), written = Gate()
        async let counts: (Int64, Int64) = database.read { c in
            let before = try c.query("SELECT count(*) AS c FROM items")[0].int("c") ?? -1
            started.open()
            try written.block()
            let after = try c.query("SELECT count(*) AS c FROM items")[0].int("c") ?? -1
            return (before, after)
        }
        try await started.wait()
        try await database.write { try $0.execute("INSERT INTO items (id, name) VALUES (2, 'b')") }
        written.open()
        let (before, after) = try await counts
        XCTAssertEqual(before, 1)
        XCTAssertEqual(after, 1, "a read transaction keeps its snapshot while writers commit")
        let now = try await count(database)
        XCTAssertEqual(now, 2)

        _ = await XCTAssertThrowsSQLError(
            try await database.read { try $0.execute("INSERT INTO items (id, name) VALUES (3, 'c')") }, \.isPermanent,
            "read transactions refuse writes")
    }

    static func connectionIsInvalidAfterItsBody(_ store: TestStore) async throws {
        let database = try await migrated(store)
        let escaped = Escaped()
        try await database.write { c in escaped.connection = c }
        XCTAssertThrowsError(try escaped.connection?.execute("SELECT 1")) { error in
            XCTAssertTrue((error as? SQLError)?.isConfiguration == true, "\(error)")
        }
    }

    // MARK: SQL features both dialects share

    static func onConflictAndReturning(_ store: TestStore) async throws {
        let database = try await migrated(store)
        let result = try await database.write { c in
            let first = try c.execute("INSERT INTO items (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", 1, "a")
            let second = try c.execute("INSERT INTO items (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING", 1, "b")
            let nothing = try c.query(
                "INSERT INTO items (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING RETURNING id", 1, "b")
            let upserted = try c.query("""
                INSERT INTO items (id, name) VALUES (?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, n = items.n + 1
                RETURNING id, name, n
                """, 1, "c")
            let inserted = try c.query("INSERT INTO items (id, name) VALUES (?, ?) RETURNING id, state", 2, "d")
            let updated = try c.query("UPDATE items SET state = 'DONE' WHERE id IN (?, ?) RETURNING id", 1, 2)
            return (first, second, nothing.count, upserted, inserted, updated.compactMap { $0.int("id") }.sorted())
        }
        XCTAssertEqual(result.0, 1)
        XCTAssertEqual(result.1, 0, "DO NOTHING reports no change")
        XCTAssertEqual(result.2, 0, "DO NOTHING ... RETURNING returns no row")
        XCTAssertEqual(result.3.count, 1)
        XCTAssertEqual(result.3.first?.values, [.integer(1), .text("c"), .integer(1)])
        XCTAssertEqual(result.4.first?.values, [.integer(2), .text("PENDING")])
        XCTAssertEqual(result.5, [1, 2])
    }

    static func valuesRoundTrip(_ store: TestStore) async throws {
        let database = try await migrated(store)
        var pattern = [UInt8](repeating: 0, count: 100_000)
        for i in pattern.indices { pattern[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 8) }
        let blobs: [[UInt8]] = [[], [0], [0, 0, 0], Array(0...255), [0xFF, 0x00, 0x7F, 0x00], pattern]
        let texts = ["", "héllo wörld ✓ 🚀", "O'Brien said \"?\" and $1", String(repeating: "x", count: 10_000)]
        let integers: [Int64] = [0, -1, Int64.max, Int64.min, 1 << 40]

        try await database.write { c in
            for (i, blob) in blobs.enumerated() {
                try c.execute("INSERT INTO items (id, name, data) VALUES (?, ?, ?)", .integer(Int64(i)), "blob", .blob(blob))
            }
            for (i, text) in texts.enumerated() {
                try c.execute("INSERT INTO items (id, name, data) VALUES (?, ?, ?)", .integer(Int64(100 + i)), .text(text), .null)
            }
            for (i, value) in integers.enumerated() {
                try c.execute("INSERT INTO items (id, name, n) VALUES (?, 'int', ?)", .integer(Int64(200 + i)), .integer(value))
            }
        }
        let rows = try await database.read { try $0.query("SELECT id, name, n, data FROM items ORDER BY id") }
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.int("id")!, $0) })
        for (i, blob) in blobs.enumerated() {
            XCTAssertEqual(byID[Int64(i)]?["data"], .blob(blob), "blob \(i) (\(blob.count) bytes) round-trips byte-exact")
        }
        for (i, text) in texts.enumerated() {
            XCTAssertEqual(byID[Int64(100 + i)]?["name"], .text(text))
            XCTAssertEqual(byID[Int64(100 + i)]?["data"], .null)
        }
        for (i, value) in integers.enumerated() {
            XCTAssertEqual(byID[Int64(200 + i)]?.int("n"), value)
        }
        // A NULL bind compares like SQL NULL, and `IS NULL` sees stored NULLs.
        let nulls = try await database.read { c in
            try c.query("SELECT count(*) AS c FROM items WHERE data IS NULL AND name <> ?", .text("int"))[0].int("c")
        }
        XCTAssertEqual(nulls, Int64(texts.count))
    }

    static func placeholdersInsideLiteralsAreUntouched(_ store: TestStore) async throws {
        let database = try await migrated(store)
        let row = try await database.write { c in
            try c.execute("INSERT INTO items (id, name) VALUES (?, 'what? really?')", 1)
            return try c.query("""
                SELECT '?' AS a, ? AS b, 'it''s ? here' AS c, '$1' AS d, /* a ? in a comment */
                       "name" AS e, ? AS f -- trailing ? comment
                FROM items WHERE name = 'what? really?' AND id = ?
                """, 7, "x", 1)[0]
        }
        XCTAssertEqual(row.values, [.text("?"), .integer(7), .text("it's ? here"), .text("$1"),
                                    .text("what? really?"), .text("x")])
    }

    // MARK: Concurrency

    static func concurrentConditionalUpdateHasOneWinner(_ store: TestStore) async throws {
        let database = try await migrated(store)
        let rowsToRace: [Int64] = [1, 2, 3, 4, 5]
        let contenders = 12
        try await database.write { c in
            for id in rowsToRace { try c.execute("INSERT INTO items (id, name) VALUES (?, 'race')", .integer(id)) }
        }
        for id in rowsToRace {
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for contender in 0..<contenders {
                    group.addTask {
                        try await database.write { c in
                            try c.execute("UPDATE items SET state = 'X', name = ? WHERE id = ? AND state = 'PENDING'",
                                          .text("winner-\(contender)"), .integer(id))
                        }
                    }
                }
                var all: [Int] = []
                for try await result in group { all.append(result) }
                return all
            }
            XCTAssertEqual(results.filter { $0 == 1 }.count, 1, "exactly one winner for row \(id): \(results)")
            XCTAssertEqual(results.filter { $0 == 0 }.count, contenders - 1)
        }
        let states = try await database.read { c in
            try c.query("SELECT count(*) AS c FROM items WHERE state = 'X' AND name LIKE 'winner-%'")[0].int("c")
        }
        XCTAssertEqual(states, Int64(rowsToRace.count))
    }

    static func concurrentIncrementsLoseNoUpdate(_ store: TestStore) async throws {
        let database = try await migrated(store)
        try await database.write { try $0.execute("INSERT INTO items (id, name, n) VALUES (1, 'counter', 0)") }
        let tasks = 8, perTask = 25
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for i in 0..<perTask {
                        try await database.write { c in
                            try c.execute("UPDATE items SET n = n + 1 WHERE id = 1")
                            try c.execute("INSERT INTO items (id, name) VALUES (?, 'log')",
                                          .integer(Int64(1000 + task * perTask + i)))
                            try c.execute("UPDATE items SET n = n + 1 WHERE id = 1")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let n = try await database.read { try $0.query("SELECT n FROM items WHERE id = 1")[0].int("n") }
        XCTAssertEqual(n, Int64(2 * tasks * perTask))
        let logs = try await count(database)
        XCTAssertEqual(logs, Int64(tasks * perTask + 1))
    }

    /// A writer blocked by another's lock for longer than its timeout gets `.transient`
    /// (SQLite: busy timeout on BEGIN IMMEDIATE; PostgreSQL: lock_timeout on the row).
    static func lockConflictIsTransient(_ store: TestStore) async throws {
        let holder = try await migrated(store)
        try await holder.write { try $0.execute("INSERT INTO items (id, name) VALUES (1, 'locked')") }
        let impatient = try await store.open(OpenOptions(lockTimeout: .milliseconds(150)))

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
                try await impatient.write { try $0.execute("UPDATE items SET n = n + 10 WHERE id = 1") }, \.isTransient)
            let waited = ContinuousClock.now - start
            XCTAssertLessThan(waited, .seconds(3), "gave up after the timeout (\(waited)), not later")
            if let error { print("[\(store.backend)] lock conflict -> \(error)") }
        } catch {
            release.open()
            try? await held
            throw error
        }
        release.open()
        try await held
        // Once the lock is gone the same transaction succeeds: retrying is the right reaction.
        try await impatient.write { try $0.execute("UPDATE items SET n = n + 10 WHERE id = 1") }
        let n = try await holder.read { try $0.query("SELECT n FROM items WHERE id = 1")[0].int("n") }
        XCTAssertEqual(n, 11)
    }

    // MARK: Lifecycle

    static func closeThenUseFailsClearly(_ store: TestStore) async throws {
        let database = try await migrated(store)
        await database.close()
        for error in [
            await XCTAssertThrowsSQLError(try await database.write { try $0.execute("SELECT 1") }, \.isConfiguration),
            await XCTAssertThrowsSQLError(try await database.read { try $0.query("SELECT 1") }, \.isConfiguration),
            await XCTAssertThrowsSQLError(try await database.migrate([items]), \.isConfiguration),
        ] {
            XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("closed"), "\(String(describing: error))")
        }
        await database.close() // a second close is harmless
    }
}
