@testable import Persistence
import XCTest

final class PlaceholderRewriteTests: XCTestCase {
    func rewrite(_ sql: String) -> String { PostgresPlaceholders.rewrite(sql).sql }

    func testNumbersPlaceholdersInOrder() {
        XCTAssertEqual(rewrite("INSERT INTO t (a, b, c) VALUES (?, ?, ?)"), "INSERT INTO t (a, b, c) VALUES ($1, $2, $3)")
        XCTAssertEqual(PostgresPlaceholders.rewrite("SELECT ?, ?").placeholderCount, 2)
        XCTAssertEqual(rewrite("SELECT 1"), "SELECT 1")
        XCTAssertEqual(rewrite("a=?AND b=?"), "a=$1AND b=$2")
    }

    func testLeavesLiteralsIdentifiersAndCommentsAlone() {
        XCTAssertEqual(rewrite("SELECT '?', 'it''s ?', ?"), "SELECT '?', 'it''s ?', $1")
        XCTAssertEqual(rewrite(#"SELECT E'\'?\\', ?"#), #"SELECT E'\'?\\', $1"#)
        XCTAssertEqual(rewrite(#"SELECT '\', ?"#), #"SELECT '\', $1"#, "plain strings have no backslash escapes")
        XCTAssertEqual(rewrite(#"SELECT "col?" FROM "t""x?" WHERE a = ?"#), #"SELECT "col?" FROM "t""x?" WHERE a = $1"#)
        XCTAssertEqual(rewrite("SELECT ? -- what?\n, ?"), "SELECT $1 -- what?\n, $2")
        XCTAssertEqual(rewrite("SELECT /* ? /* nested ? */ still ? */ ?"), "SELECT /* ? /* nested ? */ still ? */ $1")
        XCTAssertEqual(rewrite("SELECT $$ ? $$, $fn$ '?' $x$ ? $fn$, ?"), "SELECT $$ ? $$, $fn$ '?' $x$ ? $fn$, $1")
        XCTAssertEqual(rewrite("SELECT a$b, ?"), "SELECT a$b, $1", "$ inside an identifier is no quote")
        XCTAssertEqual(rewrite("SELECT $1, ?"), "SELECT $1, $1", "existing $n are not dollar quotes")
        XCTAssertEqual(rewrite("SELECT 'unterminated ?"), "SELECT 'unterminated ?")
        XCTAssertEqual(rewrite("SELECT 'héllo ✓', ?"), "SELECT 'héllo ✓', $1")
    }
}

final class ErrorMappingTests: XCTestCase {
    func testPostgresSQLStates() {
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "40001", message: "serialization").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "40P01", message: "deadlock").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "55P03", message: "lock timeout").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "08006", message: "connection failure").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "57P01", message: "admin shutdown").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "53300", message: "too many connections").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "57014", message: "statement timeout").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "25P03", message: "idle-in-transaction timeout").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "57P05", message: "idle-session timeout").isTransient)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "23505", message: "unique").isPermanent)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "23503", message: "fk").isPermanent)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "42601", message: "syntax").isPermanent)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "28P01", message: "auth").isConfiguration)
        XCTAssertTrue(PostgresDatabase.classify(sqlState: "3D000", message: "no db").isConfiguration)
        XCTAssertTrue("\(PostgresDatabase.classify(sqlState: "23505", message: "dup"))".contains("SQLSTATE 23505"))
    }

    func testSQLiteResultCodes() {
        XCTAssertTrue(SQLiteDatabase.classify(resultCode: 5, message: "busy").isTransient)
        XCTAssertTrue(SQLiteDatabase.classify(resultCode: 6, message: "locked").isTransient)
        XCTAssertTrue(SQLiteDatabase.classify(resultCode: 19, message: "constraint").isPermanent)
        XCTAssertTrue(SQLiteDatabase.classify(resultCode: 1, message: "syntax").isPermanent)
        XCTAssertTrue(SQLiteDatabase.classify(resultCode: 14, message: "cantopen").isConfiguration)
        // A full or failing disk, memory pressure, an interrupted statement: worth retrying,
        // never a reason to dead-letter a message.
        for (code, name) in [(13, "FULL"), (10, "IOERR"), (778, "IOERR_WRITE"), (1034, "IOERR_FSYNC"), (3338, "IOERR_SHMMAP"),
                             (7, "NOMEM"), (9, "INTERRUPT"), (15, "PROTOCOL")] as [(Int32, String)] {
            XCTAssertTrue(SQLiteDatabase.classify(resultCode: code, message: name).isTransient, name)
        }
        XCTAssertTrue("\(SQLiteDatabase.classify(resultCode: 778, message: "disk I/O error"))".contains("SQLite code 10, extended 778"))
        XCTAssertTrue(SQLiteDatabase.classify(resultCode: 11, message: "corrupt").isPermanent)
        XCTAssertTrue(SQLiteDatabase.classify(resultCode: 2067, message: "CONSTRAINT_UNIQUE").isPermanent)
    }
}

final class DatabaseURLTests: XCTestCase {
    /// Services/API.md is where an operator learns the URL options: each option the parsers
    /// accept is named there as code.
    func testEveryURLOptionIsDocumented() throws {
        let document = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Services/API.md")
        let text = try String(contentsOf: document, encoding: .utf8)
        for option in PostgresURL.options + SQLiteURL.options {
            XCTAssertTrue(text.contains("`\(option)`"), "Services/API.md does not name the database URL option \(option)")
        }
    }

    func testPostgresURL() throws {
        let c = try PostgresDatabase.Configuration(
            url: "postgres://us%40er:p%3Ass@db.example:6543/orders?sslmode=disable&pool_size=8&search_path=svc&connect_timeout=3")
        XCTAssertEqual(c.host, "db.example")
        XCTAssertEqual(c.port, 6543)
        XCTAssertEqual(c.username, "us@er")
        XCTAssertEqual(c.password, "p:ss")
        XCTAssertEqual(c.database, "orders")
        XCTAssertEqual(c.poolSize, 8)
        XCTAssertEqual(c.searchPath, "svc")
        XCTAssertEqual(c.connectTimeout, .seconds(3))
        XCTAssertEqual(c.isolation, .readCommitted)

        let d = try PostgresDatabase.Configuration(url: "postgresql://saga@localhost")
        XCTAssertEqual(d.port, 5432)
        XCTAssertNil(d.password)
        XCTAssertNil(d.database)
        XCTAssertEqual(d.poolSize, 4)
        XCTAssertEqual(d.endpoint, "localhost:5432/saga")
        XCTAssertEqual(d.lockTimeout, .seconds(5))
        XCTAssertEqual(d.statementTimeout, .seconds(30))
        XCTAssertEqual(d.idleInTransactionTimeout, .seconds(10))
        XCTAssertEqual(d.keepalives, PostgresDatabase.Keepalives(idleSeconds: 15, intervalSeconds: 5, count: 3))
    }

    func testSessionLimitsAndKeepalivesFromTheURL() throws {
        let c = try PostgresDatabase.Configuration(url: """
            postgres://u@h/db?lock_timeout_ms=250&statement_timeout_ms=0&idle_in_transaction_timeout_ms=60000\
            &keepalives_idle=30&keepalives_interval=10&keepalives_count=6
            """)
        XCTAssertEqual(c.lockTimeout, .milliseconds(250))
        XCTAssertEqual(c.statementTimeout, .zero)
        XCTAssertEqual(c.idleInTransactionTimeout, .seconds(60))
        XCTAssertEqual(c.keepalives, PostgresDatabase.Keepalives(idleSeconds: 30, intervalSeconds: 10, count: 6))
        XCTAssertNil(try PostgresDatabase.Configuration(url: "postgres://u@h/db?keepalives=0&keepalives_idle=30").keepalives)

        let parameters = Dictionary(uniqueKeysWithValues: PGSettings.startupParameters(c))
        XCTAssertEqual(parameters["lock_timeout"], "250ms")
        XCTAssertEqual(parameters["statement_timeout"], "0", "0 turns the server's timeout off")
        XCTAssertEqual(parameters["idle_in_transaction_session_timeout"], "60000ms")
        XCTAssertEqual(parameters["tcp_keepalives_idle"], "30")
        XCTAssertEqual(parameters["tcp_keepalives_interval"], "10")
        XCTAssertEqual(parameters["tcp_keepalives_count"], "6")
        var off = c
        off.keepalives = nil
        XCTAssertNil(Dictionary(uniqueKeysWithValues: PGSettings.startupParameters(off))["tcp_keepalives_idle"],
                     "without keepalives the server keeps the system's")
    }

    func testBadSessionLimitsAndKeepalivesSayWhatToFix() async throws {
        for (query, expected) in [
            ("lock_timeout_ms=-1", "invalid lock_timeout_ms=-1"),
            ("lock_timeout_ms=5s", "use milliseconds from 0 (off)"),
            ("statement_timeout_ms=", "invalid statement_timeout_ms="),
            ("idle_in_transaction_timeout_ms=3000000000", "invalid idle_in_transaction_timeout_ms=3000000000"),
            ("keepalives=yes", "use 1 (on, the default) or 0 (off)"),
            ("keepalives_idle=0", "use 1 to 32767 seconds"),
            ("keepalives_interval=40000", "invalid keepalives_interval=40000"),
            ("keepalives_count=200", "use 1 to 127 probes"),
            ("lock_timeout=5000", "unknown PostgreSQL URL option 'lock_timeout'"),
        ] {
            do {
                _ = try PostgresDatabase.Configuration(url: "postgres://u:secret@h/db?\(query)")
                XCTFail("\(query) should be refused")
            } catch let error as SQLError {
                XCTAssertTrue(error.isConfiguration, "\(error)")
                XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)")
                XCTAssertFalse("\(error)".contains("secret"), "no password in messages: \(error)")
            }
        }
        var configuration = try PostgresDatabase.Configuration(url: "postgres://u@127.0.0.1:1/db")
        configuration.keepalives = PostgresDatabase.Keepalives(idleSeconds: 15, intervalSeconds: 5, count: 0)
        let error = await XCTAssertThrowsSQLError(try await PostgresDatabase.connect(configuration), \.isConfiguration)
        XCTAssertTrue("\(error.map { "\($0)" } ?? "")".contains("keepalive count 0"), "\(String(describing: error))")
    }

    func testBadURLsSayWhatToFix() async {
        for (url, expected) in [
            ("", "set DATABASE_URL"),
            ("mysql://u:p@h/db", "unsupported database URL scheme 'mysql'"),
            ("postgres://h:5432/db", "no user"),
            ("postgres://u:secret@h/db?pool_size=0", "pool_size"),
            ("postgres://u:secret@h/db?sslmodee=require", "unknown PostgreSQL URL option 'sslmodee'"),
            ("sqlite:///tmp/x.db?synchronous=sometimes", "synchronous"),
        ] {
            do {
                _ = try await openDatabase(url: url)
                XCTFail("\(url) should be refused")
            } catch let error as SQLError {
                XCTAssertTrue(error.isConfiguration, "\(error)")
                XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)")
                XCTAssertFalse("\(error)".contains("secret"), "no password in messages: \(error)")
            } catch {
                XCTFail("\(error)")
            }
        }
    }
}

final class PostgresDecodingTests: XCTestCase {
    func testTimestampFormatting() {
        let secondsFrom1970To2000: Int64 = 946_684_800
        XCTAssertEqual(PGConnection.formatTimestamp(micros: 0, utc: true), "2000-01-01T00:00:00Z")
        XCTAssertEqual(PGConnection.formatTimestamp(micros: -secondsFrom1970To2000 * 1_000_000, utc: true), "1970-01-01T00:00:00Z")
        XCTAssertEqual(PGConnection.formatTimestamp(micros: -500_000, utc: true), "1999-12-31T23:59:59.5Z")
        XCTAssertEqual(PGConnection.formatTimestamp(micros: 825_130_800_123_456, utc: false), "2026-02-23T03:00:00.123456")
        XCTAssertEqual(PGConnection.formatTimestamp(micros: (-secondsFrom1970To2000 - 14_182_940) * 1_000_000, utc: true),
                       "1969-07-20T20:17:40Z")
        XCTAssertEqual(PGConnection.formatTimestamp(micros: .max, utc: true), "infinity")
    }
}

/// `sslmode` and the TLS files of a PostgreSQL URL, as libpq names them; the files must exist.
final class PostgresTLSURLTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pg-tls-url-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["ca.crt", "tls.crt", "tls.key"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: folder.appendingPathComponent(name).path, contents: Data("x\n".utf8)))
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func testTheModesAndFilesParse() throws {
        for (mode, expected) in [("disable", PostgresDatabase.TLSMode.disable), ("allow", .prefer), ("prefer", .prefer),
                                 ("require", .require), ("verify-ca", .verifyCA), ("verify-full", .verifyFull)] {
            XCTAssertEqual(try PostgresDatabase.Configuration(url: "postgres://u@h/db?sslmode=\(mode)").tls, expected, mode)
        }
        let configuration = try PostgresDatabase.Configuration(
            url: "postgres://order@postgres/order?sslmode=verify-full&sslrootcert=\(path("ca.crt"))&sslcert=\(path("tls.crt"))&sslkey=\(path("tls.key"))")
        XCTAssertEqual(configuration.tlsFiles, PostgresDatabase.TLSFiles(rootCertificate: path("ca.crt"), certificate: path("tls.crt"), key: path("tls.key")))
        XCTAssertNil(configuration.password)
    }

    func testBadTLSOptionsSayWhatToFix() {
        for (query, expected) in [
            ("sslmode=verify", "use disable, prefer, require, verify-ca or verify-full"),
            ("sslmode=verify-full&sslrootcert=/nonexistent/ca.crt", "sslrootcert=/nonexistent/ca.crt in 'postgres://u:***@h/db"),
            ("sslmode=verify-full&sslrootcert=/nonexistent/ca.crt", "no such file"),
            ("sslmode=verify-full&sslcert=\(path("tls.crt"))", "sslcert and sslkey go together"),
            ("sslmode=disable&sslrootcert=\(path("ca.crt"))", "need TLS, which sslmode=disable turns off"),
            ("sslmode=verify-full&sslkey=\(folder.path)", "sslkey=\(folder.path)"),
        ] {
            XCTAssertThrowsError(try PostgresDatabase.Configuration(url: "postgres://u:secret@h/db?\(query)"), query) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should say \(expected)")
                XCTAssertFalse("\(error)".contains("secret"), "no password in messages: \(error)")
            }
        }
    }

    /// A file that is not PEM fails when the connection is set up, naming the files.
    func testAFileThatIsNotPEMFailsBeforeAnyConnection() async {
        do {
            _ = try await openDatabase(url: "postgres://u@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=\(path("ca.crt"))")
            XCTFail("a root certificate file without a certificate must be refused")
        } catch {
            XCTAssertTrue("\(error)".contains("sslrootcert=\(path("ca.crt"))"), "\(error)")
        }
    }
}

final class JobQueueTests: XCTestCase {
    /// A pool whose queue never empties (the workers never catch up) must not keep every job it
    /// handed out: held jobs stay bounded while 10,000 pass through, in order.
    func testAQueueThatNeverEmptiesLetsGoOfTheJobsItHandedOut() {
        let queue = JobQueue()
        final class Taken: @unchecked Sendable {
            private let lock = NSLock()
            private var numbers: [Int] = []
            func add(_ number: Int) { lock.withLock { numbers.append(number) } }
            var value: [Int] { lock.withLock { numbers } }
        }
        let taken = Taken()
        // Only `fail` is called here (it needs no worker session): it says which job came out.
        func job(_ number: Int) -> Job { Job(run: { _ in }, fail: { _ in taken.add(number) }) }
        XCTAssertTrue(queue.submit(job(0)))
        var maxHeld = 0
        for number in 1...10_000 {
            XCTAssertTrue(queue.submit(job(number)))
            guard let next = queue.take() else { return XCTFail("the queue closed") }
            next.fail(CancellationError())
            maxHeld = max(maxHeld, queue.heldCount)
        }
        XCTAssertEqual(taken.value, Array(0..<10_000), "first in, first out")
        XCTAssertLessThanOrEqual(maxHeld, 2_048, "jobs handed out are kept")
        _ = queue.close()
    }
}
