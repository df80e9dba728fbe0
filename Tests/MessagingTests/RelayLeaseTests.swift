import Foundation
@testable import Messaging
import Persistence
import XCTest

final class RelayLeaseTests: XCTestCase {
    func testOneHolderAtATimeRenewalReleaseAndExpiry() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let a = RelayLease(database: database, name: "outbox", holder: "a", ttl: .seconds(30))
            let b = RelayLease(database: database, name: "outbox", holder: "b", ttl: .milliseconds(300))
            let other = RelayLease(database: database, name: "other-outbox", holder: "b", ttl: .seconds(30))
            let aFirst = try await a.acquire()
            let bWhileAHolds = try await b.acquire()
            let aRenews = try await a.acquire()
            let separateName = try await other.acquire()
            XCTAssertEqual([aFirst, bWhileAHolds, aRenews, separateName], [true, false, true, true], "[\(store.backend)]")

            try await a.release()
            let bAfterRelease = try await b.acquire()
            let aWhileBHolds = try await a.acquire()
            XCTAssertEqual([bAfterRelease, aWhileBHolds], [true, false])
            // b stops renewing: its short lease runs out and a takes over.
            try await eventually("b's lease expired", timeout: 20) { try await a.acquire() }
            let bAfterExpiry = try await b.acquire()
            XCTAssertFalse(bAfterExpiry)
        }
    }
}
