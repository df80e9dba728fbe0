import Foundation
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

final class RelayLeaseTests: XCTestCase {
    func testOneHolderAtATimeRenewalReleaseAndExpiryRaiseTheEpoch() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let a = RelayLease(database: database, name: "outbox", holder: "a", ttl: .seconds(30))
            let b = RelayLease(database: database, name: "outbox", holder: "b", ttl: .milliseconds(300))
            let other = RelayLease(database: database, name: "other-outbox", holder: "b", ttl: .seconds(30))
            let aFirst = try await a.acquire()
            let bWhileAHolds = try await b.acquire()
            let aRenews = try await a.acquire()
            let separateName = try await other.acquire()
            XCTAssertEqual([aFirst, bWhileAHolds, aRenews, separateName], [1, nil, 1, 1], "[\(store.backend)]")

            try await a.release()
            let bAfterRelease = try await b.acquire()
            let aWhileBHolds = try await a.acquire()
            XCTAssertEqual([bAfterRelease, aWhileBHolds], [2, nil], "[\(store.backend)] a take-over raises the epoch")
            // b stops renewing: its short lease runs out and a takes over.
            try await eventually("b's lease expired", timeout: 20) { try await a.acquire() != nil }
            let aAfterExpiry = try await a.acquire()
            let bAfterExpiry = try await b.acquire()
            XCTAssertEqual([aAfterExpiry, bAfterExpiry], [3, nil], "[\(store.backend)]")
        }
    }

    /// The fence of every relay write: a holder whose epoch is not the lease's current one (it
    /// stalled past its lease and another instance took over) deletes nothing; the holder with
    /// the current epoch deletes, also after it released the lease on shutdown.
    func testTheEpochFencesDeletesOfAZombieHolder() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let zombie = RelayLease(database: database, name: "outbox", holder: "zombie", ttl: .milliseconds(200))
            let owner = RelayLease(database: database, name: "outbox", holder: "owner", ttl: .seconds(30))
            let zombieEpoch = try await zombie.acquire()
            XCTAssertEqual(zombieEpoch, 1)
            try await eventually("the zombie's lease ran out", timeout: 20) { try await owner.acquire() != nil }
            let ownerEpoch = try await owner.acquire()!
            let ids = try await database.write { connection in
                try (0..<3).map { _ in
                    try connection.query("INSERT INTO outbox (topic, key, headers, payload, created_at_us) VALUES ('t', NULL, ?, NULL, 0) RETURNING id",
                                         [.blob([])]).first!.int("id")!
                }
            }
            // The relay's own delete, not a copy of its fence: the oracle must see what the relay does.
            func delete(_ lease: RelayLease, epoch: Int64, _ ids: [Int64]) async throws -> Int {
                try await database.write { connection in
                    try OutboxStore.deletePublished(ids, epoch: epoch, lease: lease, on: connection)
                }
            }
            let byZombie = try await delete(zombie, epoch: zombieEpoch!, ids)
            XCTAssertEqual(byZombie, 0, "[\(store.backend)] the zombie's old epoch deletes nothing")
            let byOwner = try await delete(owner, epoch: ownerEpoch, [ids[0]])
            XCTAssertEqual(byOwner, 1, "[\(store.backend)]")
            try await owner.release()
            let afterRelease = try await delete(owner, epoch: ownerEpoch, [ids[1]])
            XCTAssertEqual(afterRelease, 1, "[\(store.backend)] a released lease still lets its holder delete what it published")
            let left = try await database.read { try $0.query("SELECT COUNT(*) AS n FROM outbox", []).first?.int("n") }
            XCTAssertEqual(left, 1)
        }
    }

    /// A scan that deletes: the page after the delete leaves out the rows the delete took (on
    /// PostgreSQL both are one statement, and its page reads the snapshot from before the delete)
    /// and keeps id order; a fenced delete takes nothing and the page shows every row; an empty
    /// page still reports the count. Through `oneStatement`, as the relay runs it.
    func testADeleteAndTheNextPageInOneStatementLeaveOutWhatTheDeleteTook() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let owner = RelayLease(database: database, name: "outbox", holder: "owner", ttl: .seconds(30))
            let epoch = try await owner.acquire()!
            let ids = try await database.write { connection in
                try (0..<6).map { index in
                    try connection.query("INSERT INTO outbox (topic, key, headers, payload, created_at_us) VALUES ('t', NULL, ?, NULL, ?) RETURNING id",
                                         [.blob([]), .integer(Int64(index))]).first!.int("id")!
                }
            }
            func deleteThenScan(_ doomed: [Int64], epoch: Int64, after: Int64 = 0, limit: Int = 10) async throws -> (Int, [Int64]) {
                try await database.oneStatement(readOnly: false) { connection in
                    let (deleted, page) = try OutboxStore.deletePublished(doomed, epoch: epoch, lease: owner,
                                                                          thenScanning: (after, limit), on: connection)
                    return (deleted, page.compactMap(\.id))
                }
            }
            let fenced = try await deleteThenScan([ids[0], ids[1]], epoch: epoch + 1)
            XCTAssertEqual(fenced.0, 0, "[\(store.backend)] another epoch deletes nothing")
            XCTAssertEqual(fenced.1, ids, "[\(store.backend)] and the page shows every row")

            let (deleted, page) = try await deleteThenScan([ids[3], ids[0], ids[1]], epoch: epoch, limit: 2)
            XCTAssertEqual(deleted, 3, "[\(store.backend)]")
            XCTAssertEqual(page, [ids[2], ids[4]], "[\(store.backend)] the page skips what the delete took, in id order, up to its limit")

            let (tail, empty) = try await deleteThenScan([ids[2], ids[4]], epoch: epoch, after: ids[5])
            XCTAssertEqual(tail, 2, "[\(store.backend)] an empty page still carries the count")
            XCTAssertEqual(empty, [], "[\(store.backend)]")
            let left = try await database.read { try $0.query("SELECT id FROM outbox ORDER BY id", []).compactMap { $0.int("id") } }
            XCTAssertEqual(left, [ids[5]], "[\(store.backend)]")
        }
    }
}
