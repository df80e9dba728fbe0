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
}
