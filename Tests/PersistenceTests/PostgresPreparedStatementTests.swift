import Foundation
@testable import Persistence
import StoreFixtures
import XCTest

/// Named prepared statements (`PreparedStatements`): a statement a connection runs again is
/// parsed and planned once, and answers exactly as the unnamed statement does.
final class PostgresPreparedStatementTests: BackendSuite {
    override var backend: Backend { .postgres }

    static let typed = Migration(id: "001_typed", both: ["""
        CREATE TABLE typed (
            id INTEGER PRIMARY KEY,
            label TEXT,
            payload BYTEA,
            at TIMESTAMPTZ NOT NULL DEFAULT '2026-12-06T10:00:00.123456Z'
        )
        """])

    /// The same statements through a connection that prepares them and one that does not: the
    /// same rows, the same affected-row counts, the same errors; an INTEGER column compared with
    /// int8 binds, and a NULL where another run binds text.
    func testRepeatedStatementsArePreparedAndAnswerAsUnnamedOnes() async throws {
        try await run { store in
            let prepared = try await store.open(OpenOptions(poolSize: 1))
            try await prepared.migrate([Self.typed])
            let unnamed = try await store.open(OpenOptions(poolSize: 1, urlQuery: "prepared_statements=0"))

            var answers: [[String]] = []
            for (database, base) in [(prepared, Int64(0)), (unnamed, Int64(100))] {
                answers.append(try await database.write { c in try Self.workload(c, base: base) })
                // A duplicate key through a statement prepared on its second use.
                let insert = "INSERT INTO typed (id, label) VALUES (?, ?)"
                for id in [base + 10, base + 11] {
                    try await database.write { _ = try $0.execute(insert, .integer(id), .text("once")) }
                }
                let error = await XCTAssertThrowsSQLError(try await database.write { c in
                    _ = try c.execute(insert, .integer(base + 10), .text("again"))
                }, \.isPermanent)
                XCTAssertTrue(error.map { "\($0)" }?.contains("typed_pkey") == true, "\(String(describing: error))")
            }
            XCTAssertEqual(answers[0], answers[1])
            let at = "2026-12-06T10:00:00.123456Z"
            XCTAssertEqual(answers[0], [
                "insert 1: 1", "insert again 1: 0", "update 1: 1", "clear 1: 1", "row 1: 1 nil [0, 1, 255] \(at)", "below 1: 1", "delete 1: 1",
                "insert 2: 1", "insert again 2: 0", "update 2: 0", "clear 2: 1", "row 2: 2 nil [0, 2, 255] \(at)", "below 2: 1", "delete 2: 1",
                "insert 3: 1", "insert again 3: 0", "update 3: 1", "clear 3: 1", "row 3: 3 back [0, 3, 255] \(at)", "below 3: 1", "delete 3: 0",
                "delete last: 1", "left: 0",
            ])

            let preparedTexts = try await Self.preparedTexts(prepared)
            XCTAssertTrue(preparedTexts.contains("UPDATE typed SET label = $1::text WHERE id = $2::int8 AND label = $3::text RETURNING 1"), "\(preparedTexts)")
            XCTAssertTrue(preparedTexts.contains("SELECT id, label, payload, at FROM typed WHERE id = $1::int8"), "\(preparedTexts)")
            XCTAssertTrue(preparedTexts.contains("INSERT INTO typed (id, label) VALUES ($1::int8, $2::text) RETURNING 1"), "\(preparedTexts)")
            XCTAssertTrue(preparedTexts.contains("UPDATE typed SET label = $1 WHERE id = $2::int8 RETURNING 1"), "a NULL bind stays uncast: \(preparedTexts)")
            let unnamedTexts = try await Self.preparedTexts(unnamed)
            XCTAssertEqual(unnamedTexts, [], "prepared_statements=0 prepares nothing")
        }
    }

    /// Every statement three times: the answers, base-relative so two runs compare.
    static func workload(_ c: SQLConnection, base: Int64) throws -> [String] {
        var out: [String] = []
        for n in Int64(1)...3 {
            let id = base + n
            out.append("insert \(n): \(try c.execute("INSERT INTO typed (id, label, payload) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", .integer(id), .text("l\(n)"), .blob([0, UInt8(n), 255])))")
            out.append("insert again \(n): \(try c.execute("INSERT INTO typed (id, label, payload) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", .integer(id), .text("x"), .null))")
            out.append("update \(n): \(try c.execute("UPDATE typed SET label = ? WHERE id = ? AND label = ?", .text("m\(n)"), .integer(id), .text(n == 2 ? "wrong" : "l\(n)")))")
            out.append("clear \(n): \(try c.execute("UPDATE typed SET label = ? WHERE id = ?", n == 3 ? .text("back") : .null, .integer(id)))")
            for row in try c.query("SELECT id, label, payload, at FROM typed WHERE id = ?", .integer(id)) {
                out.append("row \(n): \((row.int("id") ?? -1) - base) \(row.string("label") ?? "nil") \(row.bytes("payload") ?? []) \(row.string("at") ?? "nil")")
            }
            out.append("below \(n): \(try c.query("SELECT count(*) AS c FROM typed WHERE id <= ? AND id > ?", .integer(id), .integer(base))[0].int("c") ?? -1)")
            out.append("delete \(n): \(try c.execute("DELETE FROM typed WHERE id = ? AND label IS NULL", .integer(id)))")
            if n == 3 { out.append("delete last: \(try c.execute("DELETE FROM typed WHERE id = ?", .integer(id)))") }
        }
        out.append("left: \(try c.query("SELECT count(*) AS c FROM typed WHERE id > ?", .integer(base))[0].int("c") ?? -1)")
        return out
    }

    static func preparedTexts(_ database: any SQLDatabase) async throws -> [String] {
        try await database.read { c in
            try c.query("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%typed%' AND statement NOT LIKE '%pg_prepared_statements%' ORDER BY statement")
                .compactMap { $0.string("statement") }
        }
    }

    /// A connection keeps at most `prepared_statements` of them; a statement with more binds than
    /// `PreparedStatements.maxPlaceholders` is never prepared; what is not prepared still runs.
    func testPreparedStatementsAreBoundedPerConnection() async throws {
        try await run { store in
            let database = try await store.open(OpenOptions(poolSize: 1, urlQuery: "prepared_statements=3"))
            let sums = try await database.write { c -> [Int64] in
                var sums: [Int64] = []
                for _ in 0..<3 {
                    for k in 1...6 {
                        let terms = Array(repeating: "?", count: k).joined(separator: " + ")
                        let binds = (1...k).map { SQLValue.integer(Int64($0)) }
                        sums.append(try c.query("SELECT (\(terms)) AS s, 'typed' AS t", binds)[0].int("s") ?? -1)
                    }
                }
                return sums
            }
            XCTAssertEqual(sums, Array(repeating: [1, 3, 6, 10, 15, 21] as [Int64], count: 3).flatMap { $0 })
            let texts = try await Self.preparedTexts(database)
            XCTAssertEqual(texts.count, 3, "\(texts)")

            let wide = try await store.open(OpenOptions(poolSize: 1))
            let count = PreparedStatements.maxPlaceholders + 1
            let terms = Array(repeating: "?", count: count).joined(separator: " + ")
            for _ in 0..<3 {
                let sum = try await wide.read { c in
                    try c.query("SELECT (\(terms)) AS s, 'typed' AS t", (0..<count).map { _ in SQLValue.integer(1) })[0].int("s")
                }
                XCTAssertEqual(sum, Int64(count))
            }
            let wideTexts = try await Self.preparedTexts(wide)
            XCTAssertEqual(wideTexts, [], "a statement with \(count) binds is not prepared")
        }
    }

    /// The server ends the session: the one transaction that meets it fails transiently (the
    /// error of a prepared statement included), and the new connection prepares its statements
    /// again instead of naming ones the old session took with it.
    func testAReplacedConnectionPreparesItsStatementsAgain() async throws {
        try await run { store in
            let database = try await store.open(OpenOptions(poolSize: 1))
            try await database.migrate([Self.typed])
            let insert = "INSERT INTO typed (id, label) VALUES (?, ?)"
            for id in Int64(1)...2 {
                try await database.write { _ = try $0.execute(insert, .integer(id), .text("before")) }
            }
            let preparedBefore = try await Self.preparedTexts(database)
            XCTAssertEqual(preparedBefore.count, 1)
            let pid = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid")! }
            let admin = try await store.open(OpenOptions(poolSize: 1, urlQuery: "prepared_statements=0"))
            _ = try await admin.write { try $0.query("SELECT pg_terminate_backend(?::int)", .integer(pid)) }

            var failures: [SQLError] = []
            var id: Int64 = 3
            while id < 8 {
                do {
                    let next = id
                    try await database.write { _ = try $0.execute(insert, .integer(next), .text("after")) }
                    id += 1
                } catch let error as SQLError {
                    XCTAssertTrue(error.isTransient, "\(error)")
                    failures.append(error)
                    XCTAssertLessThanOrEqual(failures.count, 1, "\(failures)")
                    if failures.count > 1 { return }
                }
            }
            let newPid = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid")! }
            XCTAssertNotEqual(newPid, pid)
            let preparedAfter = try await Self.preparedTexts(database)
            XCTAssertEqual(preparedAfter, ["INSERT INTO typed (id, label) VALUES ($1::int8, $2::text) RETURNING 1"])
            let rows = try await database.read { try $0.query("SELECT count(*) AS c FROM typed")[0].int("c") }
            XCTAssertEqual(rows, 7)
        }
    }

    /// A prepared statement's server error is classified as an unnamed one's: a statement
    /// timeout is transient and keeps the connection.
    func testAPreparedStatementsTimeoutIsTransientAndKeepsTheConnection() async throws {
        try await run { store in
            let database = try await store.open(OpenOptions(poolSize: 1, urlQuery: "statement_timeout_ms=200"))
            let pid = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid")! }
            let sleep = "SELECT pg_sleep(? / 1000.0) AS slept, 'typed' AS t"
            for _ in 0..<2 { _ = try await database.read { try $0.query(sleep, .integer(0)) } }
            let texts = try await Self.preparedTexts(database)
            XCTAssertEqual(texts, ["SELECT pg_sleep($1::int8 / 1000.0) AS slept, 'typed' AS t"])
            _ = await XCTAssertThrowsSQLError(try await database.read { try $0.query(sleep, .integer(2_000)) }, \.isTransient)
            let after = try await database.read { try $0.query("SELECT pg_backend_pid() AS pid")[0].int("pid")! }
            XCTAssertEqual(after, pid, "a cancelled statement does not cost the connection")
        }
    }

    /// A read by a list of keys uses the table's index once the table has grown, however small
    /// the table was when the connection first ran it. Prepared, such a read settled on a whole-
    /// table scan while the table was a page (as autovacuum's first ANALYZE of a fresh database
    /// found it) and kept it until the next ANALYZE: every batch read the whole table.
    /// Autovacuum is off for the table, so that only the test's ANALYZE runs.
    func testAReadByAListOfKeysUsesTheIndexOnceTheTableHasGrown() async throws {
        try await run { store in
            let database = try await store.open(OpenOptions(poolSize: 1))
            try await database.migrate([Migration(id: "001_keyed", both: ["""
                CREATE TABLE keyed (key TEXT PRIMARY KEY, padding CHAR(400) NOT NULL DEFAULT '')
                    WITH (autovacuum_enabled = off)
                """])])
            try await database.write { connection in
                try connection.execute("INSERT INTO keyed (key) SELECT 'k' || g FROM generate_series(1, 5) AS g", [])
                try connection.execute("ANALYZE keyed", [])
            }
            let read = "SELECT key FROM keyed WHERE key IN (?, ?) ORDER BY key"
            for round in 0..<10 {
                let rows = try await database.read { try $0.query(read, .text("k\(round)"), .text("k\(round + 1)")) }
                XCTAssertEqual(rows.count, [round, round + 1].filter { (1...5).contains($0) }.count)
            }
            try await database.write { try $0.execute("INSERT INTO keyed (key) SELECT 'k' || g FROM generate_series(6, 20000) AS g", []) }
            let (keys, scans) = try await database.read { connection in
                // This backend's scans not yet sent to the statistics, before and after the read.
                let count = "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'keyed'"
                let before = try connection.query(count).first
                let keys = try connection.query(read, .text("k17"), .text("k19999")).compactMap { $0.string("key") }
                let after = try connection.query(count).first
                let delta = { (name: String) in (after?.int(name) ?? 0) - (before?.int(name) ?? 0) }
                return (keys, (delta("seq_scan"), delta("idx_scan")))
            }
            XCTAssertEqual(keys, ["k17", "k19999"])
            XCTAssertEqual(scans.0, 0, "no scan of the whole table: \(scans)")
            XCTAssertGreaterThanOrEqual(scans.1, 1, "the index: \(scans)")
            let texts = try await database.read { c in
                try c.query("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%FROM keyed%'").compactMap { $0.string("statement") }
            }
            XCTAssertEqual(texts, [], "the read by a list of keys is not prepared")
        }
    }

    /// Which statements count as reads by a list of keys.
    func testWhichStatementsLookUpAListOfKeys() {
        XCTAssertTrue(PreparedStatements.looksUpAListOfKeys("SELECT * FROM orders WHERE order_id IN (?, ?)"))
        XCTAssertTrue(PreparedStatements.looksUpAListOfKeys("DELETE FROM t WHERE (a, b) in ((?, ?), (?, ?))"))
        XCTAssertTrue(PreparedStatements.looksUpAListOfKeys("SELECT sku FROM stock WHERE sku IN\n  (?, ?, ?) ORDER BY sku FOR UPDATE"))
        XCTAssertFalse(PreparedStatements.looksUpAListOfKeys("SELECT * FROM orders WHERE order_id IN (?)"))
        XCTAssertFalse(PreparedStatements.looksUpAListOfKeys("SELECT * FROM orders WHERE order_id = ?"))
        XCTAssertFalse(PreparedStatements.looksUpAListOfKeys("INSERT INTO t (a, b) VALUES (?, ?)"))
        XCTAssertFalse(PreparedStatements.looksUpAListOfKeys("SELECT * FROM t WHERE id = ANY (string_to_array(?, ',')::bigint[])"))
        XCTAssertFalse(PreparedStatements.looksUpAListOfKeys("SELECT * FROM t WHERE id NOT IN (SELECT id FROM d) AND k = ?"))
    }
}
