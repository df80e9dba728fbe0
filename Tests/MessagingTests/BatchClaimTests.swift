import Foundation
import Kafka
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

/// The head of every batch: the offsets fence and the inbox claim, one statement on PostgreSQL
/// and a few on SQLite, with one outcome on both.
final class BatchClaimTests: XCTestCase {
    private static let p0 = TopicPartition(topic: "orders.v1", partition: 0)
    private static let p1 = TopicPartition(topic: "orders.v1", partition: 1)

    private func claim(_ candidates: [BatchClaim.Candidate], partitions: [TopicPartition],
                       on database: any SQLDatabase) async throws -> (BatchClaim.Claimed, [String]) {
        try await database.write { connection in
            let log = StatementLog(connection)
            return (try BatchClaim.claim(group: "g", partitions: partitions, candidates: candidates, on: log), log.statements)
        }
    }

    /// A first batch claims every id once (one id twice in the batch). A second owner's batch,
    /// after the first committed: the fence returns the stored offsets, messages at or below
    /// them claim nothing, an id already recorded is not fresh, and one past the fence is.
    func testTheFenceAndTheInboxInOneStatementOnPostgresWithTheSameOutcomeOnBothBackends() async throws {
        let p0 = Self.p0, p1 = Self.p1
        try await forEachBackend { store in
            let database = try await store.open()
            let a = UUID(), b = UUID(), c = UUID(), d = UUID(), e = UUID()
            let first = [
                BatchClaim.Candidate(id: a, partition: p0, offset: 0), BatchClaim.Candidate(id: b, partition: p0, offset: 1),
                BatchClaim.Candidate(id: a, partition: p0, offset: 2), BatchClaim.Candidate(id: c, partition: p1, offset: 0),
            ]
            let (claimed, statements) = try await claim(first, partitions: [p1, p0], on: database)
            XCTAssertEqual(claimed.stored, [p0: -1, p1: -1], "[\(store.backend)] new offset rows start at -1")
            XCTAssertEqual(claimed.fresh, [a, b, c], "[\(store.backend)]")
            // SQLite: the offsets, then the three ids in power-of-two chunks (`MultiRowStatement`), in process.
            XCTAssertEqual(statements.count, store.backend == .postgres ? 1 : 1 + 3.nonzeroBitCount, "[\(store.backend)] \(statements)")

            try await database.write { connection in
                try OffsetStore.store(group: "g", offsets: [p0: 2, p1: 0], on: connection)
            }
            // d sits below the fence, so it is not claimed even though it is new; e is past it.
            let second = [
                BatchClaim.Candidate(id: d, partition: p0, offset: 1), BatchClaim.Candidate(id: b, partition: p0, offset: 3),
                BatchClaim.Candidate(id: e, partition: p1, offset: 1),
            ]
            let (again, _) = try await claim(second, partitions: [p0, p1], on: database)
            XCTAssertEqual(again.stored, [p0: 2, p1: 0], "[\(store.backend)]")
            XCTAssertEqual(again.fresh, [e], "[\(store.backend)] b is recorded already, d is behind the fence")
            let recorded = try await database.read { connection in
                try connection.query("SELECT event_id FROM inbox WHERE consumer_group = 'g'", []).compactMap { $0.bytes("event_id").flatMap(UUID.init(bytes:)) }
            }
            XCTAssertEqual(Set(recorded), [a, b, c, e], "[\(store.backend)] nothing recorded for d")

            let (empty, _) = try await claim([], partitions: [p0], on: database)
            XCTAssertEqual(empty.stored, [p0: 2], "[\(store.backend)] a batch without event ids still takes its fence")
            XCTAssertEqual(empty.fresh, [], "[\(store.backend)]")
        }
    }
}
