import Dispatch
import Foundation
@testable import Persistence
import XCTest

/// SQLite runs a transaction on the caller's thread only when its connection is free; one that
/// would wait is handed to GRDB's queue, so waiting writers never hold Swift's cooperative threads.
final class InPlaceTransactionTests: XCTestCase {
    /// One transaction holds the writer; more writers than the cooperative pool has threads queue
    /// behind it. Were they waiting in place, the pool would be parked and the probe task below
    /// could not run until the holder let go.
    func testWritersThatWouldWaitDoNotParkTheCooperativePool() async throws {
        let database = try SQLiteDatabase.temporary()
        try await database.write { try $0.execute("CREATE TABLE t (n INTEGER NOT NULL)", []) }
        let holding = Gate()
        let release = Gate()
        let holder = Task {
            try await database.write { connection in
                try connection.execute("INSERT INTO t (n) VALUES (0)", [])
                holding.open()
                try release.block(timeout: 30)
            }
        }
        try await holding.wait()
        let waiters = 4 * ProcessInfo.processInfo.activeProcessorCount + 4
        let writes = (1...waiters).map { n in
            Task { try await database.write { try $0.execute("INSERT INTO t (n) VALUES (?)", [.integer(Int64(n))]) } }
        }
        try await waitUntil("every waiter queued for the writer") { database.writersWaitingOrRunning == waiters + 1 }
        // A task on the cooperative pool still runs while they all wait.
        let probe = Gate()
        Task { probe.open() }
        try await probe.wait(timeout: 10)
        release.open()
        try await holder.value
        for write in writes { let inserted = try await write.value; XCTAssertEqual(inserted, 1) }
        let rows = try await database.read { try $0.query("SELECT COUNT(*) AS n FROM t", []).first?.int("n") }
        XCTAssertEqual(rows, Int64(waiters + 1))
        XCTAssertEqual(database.writersWaitingOrRunning, 0)
        await database.close()
    }

    func testTheGateCountsRunningAndQueuedUsersAgainstItsConnections() {
        let gate = ConnectionGate(connections: 2)
        XCTAssertTrue(gate.enterInPlace())
        gate.enter()
        XCTAssertFalse(gate.enterInPlace(), "both connections taken: one in place, one queued")
        gate.leave()
        XCTAssertTrue(gate.enterInPlace())
        gate.leave()
        gate.leave()
        XCTAssertEqual(gate.inUse, 0)
    }

    private func waitUntil(_ what: String, timeout: TimeInterval = 10, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { XCTFail("timed out waiting until \(what)"); throw TestTimeout() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
