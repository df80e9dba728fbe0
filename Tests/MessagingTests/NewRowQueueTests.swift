import EventSchema
import Foundation
import Kafka
import Logging
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

/// A consumer batch's new rows (`UnitOfWork.insertNew`) go in one statement per table, written
/// before any statement that names the table, and a row that turns out not to be new replays the
/// batch with its rows written in place; on both backends.
final class NewRowQueueTests: XCTestCase {
    static let claims = MultiRowStatement("INSERT INTO claims (order_id, n)", columns: 2, suffix: "ON CONFLICT (order_id) DO NOTHING")

    static let migrations = MessagingSchema.migrations + [Migration(id: "test-claims", both: [
        "CREATE TABLE claims (order_id TEXT PRIMARY KEY, n BIGINT NOT NULL)",
        "CREATE TABLE lost_races (order_id TEXT PRIMARY KEY)",
    ])]

    private func claimRows(_ database: any SQLDatabase) async throws -> [String] {
        try await database.read { connection in
            try connection.query("SELECT order_id, n FROM claims ORDER BY order_id", []).map { "\($0.string("order_id")!)=\($0.int("n")!)" }
        }
    }

    func testNewRowsOfATableGoInOneStatementJustBeforeTheFirstStatementThatNamesIt() async throws {
        try await forEachBackend(migrations: Self.migrations) { store in
            let database = try await store.open()
            let (statements, updated, seenByCount) = try await database.write { connection -> ([String], Int, Int64) in
                let log = StatementLog(connection)
                let unit = UnitOfWork(connection: log, signer: nil, queuesNewRows: true)
                for n in 1...3 {
                    XCTAssertTrue(try unit.insertNew([.text("o-\(n)"), .integer(Int64(n))], with: Self.claims, into: "claims"))
                }
                XCTAssertEqual(log.statements, [], "queued rows were written at once")
                _ = try unit.connection.query("SELECT COUNT(*) AS n FROM lost_races", [])
                XCTAssertEqual(log.statements.count, 1, "a statement on another table wrote the queued rows: \(log.statements)")
                // A later event of the batch updates a row an earlier one queued: it must be there.
                let updated = try unit.connection.execute("UPDATE claims SET n = n + 10 WHERE order_id = ?", [.text("o-2")])
                XCTAssertTrue(try unit.insertNew([.text("o-4"), .integer(4)], with: Self.claims, into: "claims"))
                let seen = try unit.connection.query("SELECT COUNT(*) AS n FROM claims", [])[0].int("n") ?? -1
                XCTAssertTrue(try unit.insertNew([.text("o-5"), .integer(5)], with: Self.claims, into: "claims"))
                try unit.flush()
                return (log.statements, updated, seen)
            }
            XCTAssertEqual(updated, 1, "[\(store.backend)] the update did not find the row queued before it")
            XCTAssertEqual(seenByCount, 4, "[\(store.backend)] a read of the table did not see the rows queued before it")
            let inserts = statements.filter { $0.hasPrefix("INSERT INTO claims") }
            // Three rows, then one, then one: one statement per write on PostgreSQL; SQLite cuts
            // three rows into chunks of 2 and 1 (`MultiRowStatement`).
            XCTAssertEqual(inserts.count, store.backend == .postgres ? 3 : 4, "[\(store.backend)] \(statements)")
            // Each write of queued rows comes just before the statement on their table.
            let kinds = statements.map { $0.hasPrefix("INSERT INTO claims") ? "insert" : $0.hasPrefix("UPDATE") ? "update" : $0.hasSuffix("claims") ? "read" : "other" }
            let written = store.backend == .postgres ? ["insert"] : ["insert", "insert"]
            XCTAssertEqual(kinds, ["other"] + written + ["update", "insert", "read", "insert"], "[\(store.backend)] \(statements)")
            let rows = try await claimRows(database)
            XCTAssertEqual(rows, ["o-1=1", "o-2=12", "o-3=3", "o-4=4", "o-5=5"], "[\(store.backend)]")
        }
    }

    func testARowThatIsNotNewFailsTheQueueAndInPlaceItAnswersFalse() async throws {
        try await forEachBackend(migrations: Self.migrations) { store in
            let database = try await store.open()
            try await database.write { _ = try $0.execute("INSERT INTO claims (order_id, n) VALUES ('o-2', 0)", []) }
            do {
                try await database.write { connection in
                    let unit = UnitOfWork(connection: connection, signer: nil, queuesNewRows: true)
                    for n in 1...3 { _ = try unit.insertNew([.text("o-\(n)"), .integer(Int64(n))], with: Self.claims, into: "claims") }
                    try unit.flush()
                }
                XCTFail("[\(store.backend)] a queued row that was there already went unnoticed")
            } catch let failure as NewRowsFailed {
                XCTAssertTrue(failure.reason.contains("1 of 3 new rows of claims were there already"), "[\(store.backend)] \(failure)")
            }
            let answers = try await database.write { connection in
                let unit = UnitOfWork(connection: connection, signer: nil)
                return try (1...3).map { try unit.insertNew([.text("o-\($0)"), .integer(Int64($0))], with: Self.claims, into: "claims") }
            }
            XCTAssertEqual(answers, [true, false, true], "[\(store.backend)]")
            let rows = try await claimRows(database)
            XCTAssertEqual(rows, ["o-1=1", "o-2=0", "o-3=3"], "[\(store.backend)]")
        }
    }

    /// Another writer inserted one of the batch's rows first: the batch is replayed once with its
    /// rows written in place, where that event's write answers false and it decides again.
    func testABatchWhoseNewRowWasNotNewIsReplayedWithItsRowsInPlace() async throws {
        try await forEachBackend(migrations: Self.migrations) { store in
            let database = try await store.open()
            try await database.write { _ = try $0.execute("INSERT INTO claims (order_id, n) VALUES ('o-2', 0)", []) }
            let processor = BatchProcessorTests.makeProcessor(database) { event, unit in
                let orderId = event.envelope.orderId
                if try !unit.insertNew([.text(orderId), .integer(1)], with: Self.claims, into: "claims") {
                    _ = try unit.connection.execute("INSERT INTO lost_races (order_id) VALUES (?)", [.text(orderId)])
                }
                return .applied
            }
            let messages = (1...3).map { Events.consumed(Events.orderPlaced("o-\($0)"), offset: Int64($0)) }
            let outcome = try await BatchProcessorTests.process(processor, messages)
            XCTAssertEqual(outcome.handled, 3, "[\(store.backend)]")
            XCTAssertEqual(outcome.retries, 1, "[\(store.backend)] replayed once")
            XCTAssertEqual(outcome.deadLetters.count, 0, "[\(store.backend)]")
            let rows = try await claimRows(database)
            XCTAssertEqual(rows, ["o-1=1", "o-2=0", "o-3=1"], "[\(store.backend)]")
            let lost = try await database.read { try $0.query("SELECT order_id FROM lost_races", []).map { $0.string("order_id")! } }
            XCTAssertEqual(lost, ["o-2"], "[\(store.backend)] the event whose row was not new did not decide again")
        }
    }

    func testTextContainsWord() {
        XCTAssertTrue(NewRowQueue.text("UPDATE reservations SET", contains: Array("reservations".utf8)))
        XCTAssertTrue(NewRowQueue.text("reservations", contains: Array("reservations".utf8)))
        XCTAssertFalse(NewRowQueue.text("SELECT * FROM reservation", contains: Array("reservations".utf8)))
        XCTAssertFalse(NewRowQueue.text("", contains: Array("x".utf8)))
        XCTAssertTrue(NewRowQueue.text("a rreservations", contains: Array("reservations".utf8)))
    }
}
