import EventSchema
import Foundation
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

/// Bodies that arrive while a transaction is in flight share the next one; each keeps its own
/// result or error, and one body's failure never fails or duplicates another's write.
final class GroupCommitTests: XCTestCase {
    struct Refused: Error, Equatable { let orderId: String }

    /// Which transaction each body ran in, and the after-commit actions that ran.
    final class Journal: @unchecked Sendable {
        let lock = NSLock()
        var units: [String: [ObjectIdentifier]] = [:]
        /// Kept alive, so that no later unit takes a freed one's identity.
        var kept: [UnitOfWork] = []
        var committed: [String] = []
        func ran(_ orderId: String, in unit: UnitOfWork) {
            lock.withLock {
                kept.append(unit)
                units[orderId, default: []].append(ObjectIdentifier(unit))
            }
        }
        func afterCommit(_ orderId: String) { lock.withLock { committed.append(orderId) } }
        var transactions: Int { lock.withLock { Set(units.values.flatMap { $0 }).count } }
    }

    /// The first body holds its transaction until the other `count - 1` callers wait behind it:
    /// they must then be written together, in one second transaction, whatever the scheduling.
    func run(_ commit: GroupCommit, count: Int, refusing refused: Set<String>, journal: Journal) async -> [String: Result<EventEnvelope, Refused>] {
        await withTaskGroup(of: (String, Result<EventEnvelope, Refused>).self) { tasks in
            for index in 0..<count {
                let orderId = "g-\(index)"
                tasks.addTask {
                    if index > 0 { while journal.transactions == 0 { try? await Task.sleep(for: .milliseconds(1)) } }
                    do {
                        let envelope = try await commit.write { unit -> EventEnvelope in
                            journal.ran(orderId, in: unit)
                            if index == 0 {
                                let deadline = Date().addingTimeInterval(10)
                                while commit.waitingCount < count - 1, Date() < deadline { usleep(1_000) }
                            }
                            let envelope = try unit.emit(Events.orderPlaced(orderId))
                            unit.afterCommit { journal.afterCommit(orderId) }
                            if refused.contains(orderId) { throw Refused(orderId: orderId) }
                            return envelope
                        }
                        return (orderId, .success(envelope))
                    } catch let error as Refused {
                        return (orderId, .failure(error))
                    } catch {
                        XCTFail("unexpected error for \(orderId): \(error)")
                        return (orderId, .failure(Refused(orderId: "unexpected")))
                    }
                }
            }
            var results: [String: Result<EventEnvelope, Refused>] = [:]
            for await (orderId, result) in tasks { results[orderId] = result }
            return results
        }
    }

    func testCallersThatWaitShareOneTransactionAndKeepTheirOwnResults() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let commit = GroupCommit(database: database, relay: nil, name: "test")
            let journal = Journal()
            let results = await run(commit, count: 20, refusing: [], journal: journal)
            XCTAssertEqual(journal.transactions, 2, "[\(store.backend)] the first alone, the 19 that waited in one")
            let stored = try await UnitOfWorkTests.outbox(database)
            XCTAssertEqual(Set(stored.map(\.decoded.envelope.orderId)), Set((0..<20).map { "g-\($0)" }))
            XCTAssertEqual(stored.count, 20, "[\(store.backend)] each event once")
            for (orderId, result) in results {
                XCTAssertEqual(try result.get().orderId, orderId, "a caller got another's result")
            }
            XCTAssertEqual(Set(journal.committed), Set(results.keys), "each after-commit action ran once")
            XCTAssertEqual(journal.committed.count, 20)
        }
    }

    func testOneBodysErrorIsItsOwnAndTheOthersAreWrittenOnce() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let commit = GroupCommit(database: database, relay: nil, name: "test")
            let journal = Journal()
            let results = await run(commit, count: 12, refusing: ["g-5"], journal: journal)
            XCTAssertEqual(results["g-5"].flatMap { if case .failure(let e) = $0 { e } else { nil } }, Refused(orderId: "g-5"))
            let written = results.filter { (try? $0.value.get()) != nil }
            XCTAssertEqual(written.count, 11, "[\(store.backend)] the others were written")
            let stored = try await UnitOfWorkTests.outbox(database)
            XCTAssertEqual(stored.map(\.decoded.envelope.orderId).sorted(), written.keys.sorted(),
                           "[\(store.backend)] the group's rolled-back attempt left nothing; each written once; the refused one not at all")
            XCTAssertEqual(journal.committed.sorted(), written.keys.sorted(), "after-commit actions of the committed writes only")
            XCTAssertEqual(journal.units["g-5"]?.count, 2, "the refused body was tried in its group, then alone")
            XCTAssertEqual(journal.transactions, 1 + 1 + 11, "[\(store.backend)] the first alone, the group, then each of the group alone")
        }
    }
}
