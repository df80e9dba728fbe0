@testable import DevClusterTesting
import EventSchema
import Foundation
import Kafka
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

/// The relay reads the outbox only when something may be sendable. The fallback interval is a
/// minute here, so a row that waited for it instead of for its own trigger (a commit, the ack
/// of the row ahead of it, the end of its key's backoff) would not get out within the test.
final class RelayScanTests: XCTestCase {
    func relay(_ cluster: DevClusterHarness, _ database: any SQLDatabase, sendTimeout: Duration = .seconds(30),
               vacuumAfterDeletedRows: Int = 2000, deleteDelay: Duration? = nil) -> OutboxRelay {
        OutboxRelay(database: database,
                    configuration: RelayConfiguration(kafka: cluster.kafka, fallbackInterval: .seconds(60),
                                                      retry: RetryPolicy(initialDelay: .milliseconds(100), maximumDelay: .milliseconds(500)),
                                                      leaseTTL: .seconds(30), sendTimeout: sendTimeout, statisticsInterval: .milliseconds(100),
                                                      vacuumAfterDeletedRows: vacuumAfterDeletedRows, deleteDelay: deleteDelay),
                    logger: quietLogger("test.relay", level: .critical))
    }

    /// One commit, many keys: one scan hands them all over; their acknowledgements and deletes
    /// free no row anybody waits for and read nothing.
    func testAcknowledgementsThatFreeNoWaitingRowCostNoScan() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let relay = relay(cluster, database)
            relay.start()
            try await eventually("leader") { relay.statistics.isLeader }
            let before = relay.statistics.scans
            _ = try await database.unitOfWork(waking: relay) { unit in
                for index in 0..<200 { try unit.emit(Events.orderPlaced("scan-\(index)")) }
            }
            try await eventually("published and deleted", timeout: 30) { relay.statistics.deletedRows == 200 }
            let scans = relay.statistics.scans - before
            XCTAssertGreaterThanOrEqual(scans, 1)
            XCTAssertLessThanOrEqual(scans, 2, "one scan for the commit (a second if the commit's wake-up raced the first)")
            XCTAssertEqual(relay.statistics.deletedInScans, 0, "on SQLite the deleter deletes, and scans stay reads")
            await relay.shutdown()
        }
    }

    /// Rows of one key committed together go out one after another: each acknowledgement
    /// triggers the scan that finds the next.
    func testRowsOfOneKeyFollowEachOtherOnTheirAcknowledgements() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let relay = relay(cluster, database)
            relay.start()
            _ = try await database.unitOfWork(waking: relay) { unit in
                for _ in 0..<5 { try unit.emit(Events.orderPlaced("one-key")) }
            }
            try await eventually("all five published", timeout: 20) { relay.statistics.published == 5 }
            await relay.shutdown()
            let records = try await TopicReader.read(cluster, topic: TopicCatalog.orders.name, minimum: 5)
            XCTAssertEqual(TopicReader.firstSequencesByOrder(records)["one-key"], [1, 2, 3, 4, 5])
        }
    }

    /// A row committed while the row ahead of it is stuck on a broker that holds its answers:
    /// the stuck send times out, its key backs off and is retried on the backoff (not the
    /// fallback), and once the broker answers both rows go out in order.
    func testAStuckKeyIsRetriedOnItsBackoffAndTheRowBehindItFollows() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let leaders = try cluster.status().topic(TopicCatalog.orders.name)!.leaders
            let order = RuntimeKafkaTests.orderId(inPartition: 0, prefix: "stuck")
            let relay = relay(cluster, database, sendTimeout: .seconds(1))
            relay.start()
            try await eventually("leader") { relay.statistics.isLeader }
            try cluster.pause(broker: leaders[0], ms: 60_000)
            _ = try await database.unitOfWork(waking: relay) { unit in try unit.emit(Events.orderPlaced(order)) }
            _ = try await database.unitOfWork(waking: relay) { unit in try unit.emit(Events.orderPlaced(order)) }
            try await eventually("the stuck send timed out more than once", timeout: 20) { relay.statistics.failed >= 2 }
            try cluster.resume(broker: leaders[0])
            try await eventually("both rows published", timeout: 20) { relay.statistics.published == 2 }
            await relay.shutdown()
            let records = try await TopicReader.read(cluster, topic: TopicCatalog.orders.name, minimum: 2)
            let sequences = TopicReader.firstSequencesByOrder(records)[order] ?? []
            XCTAssertEqual(Array(sequences.prefix(2)), [1, 2], "in order")
        }
    }

    /// PostgreSQL keeps deleted outbox rows in the primary key's index until a vacuum, and every
    /// scan starts at the lowest id: after its threshold of deletes the relay vacuums the outbox
    /// itself (the server counts a manual vacuum apart from autovacuum's), and its scans find the
    /// index clean again.
    func testTheRelayVacuumsTheOutboxAfterItsThresholdOfDeletes() async throws {
        try await withClusterAndStore(.postgres) { cluster, store in
            let database = try await store.open()
            let relay = relay(cluster, database, vacuumAfterDeletedRows: 150)
            relay.start()
            try await eventually("leader") { relay.statistics.isLeader }
            for batch in 0..<4 {
                _ = try await database.unitOfWork(waking: relay) { unit in
                    for index in 0..<50 { try unit.emit(Events.orderPlaced("vacuum-\(batch)-\(index)")) }
                }
            }
            try await eventually("published and deleted", timeout: 30) { relay.statistics.deletedRows == 200 }
            try await eventually("vacuumed once", timeout: 10) { relay.statistics.vacuums == 1 }
            let manualVacuums = { @Sendable () async throws -> Int64 in
                try await database.read {
                    try $0.query("SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'outbox'::regclass", [])
                        .first?.int("vacuum_count") ?? 0
                }
            }
            try await eventually("the server counted the vacuum", timeout: 10) { (try? await manualVacuums()) == 1 }
            await relay.shutdown()
        }
    }

    /// On PostgreSQL the rows acknowledged since the last delete go in the next scan's
    /// statement instead of a statement of their own (the name is from when both were
    /// transactions; seeded bug 35 names the test). The deleter's delay is a minute here,
    /// so a row gone within the test was deleted by a scan; what no scan took is deleted on shutdown.
    func testTheNextScanDeletesTheAcknowledgedRowsInItsOwnTransaction() async throws {
        try await withClusterAndStore(.postgres) { cluster, store in
            let database = try await store.open()
            let relay = relay(cluster, database, deleteDelay: .seconds(60))
            let outboxIds = { @Sendable () async throws -> [Int64] in
                try await database.read { try $0.query("SELECT id FROM outbox ORDER BY id", []).compactMap { $0.int("id") } }
            }
            relay.start()
            try await eventually("leader") { relay.statistics.isLeader }
            _ = try await database.unitOfWork(waking: relay) { unit in try unit.emit(Events.orderPlaced("fold-1")) }
            try await eventually("the first row published", timeout: 20) { relay.statistics.published == 1 }
            let first = try await outboxIds()
            XCTAssertEqual(first.count, 1, "acknowledged, and no scan has come to delete it")

            _ = try await database.unitOfWork(waking: relay) { unit in try unit.emit(Events.orderPlaced("fold-2")) }
            try await eventually("the second row published", timeout: 20) { relay.statistics.published == 2 }
            let second = try await outboxIds()
            XCTAssertEqual(second.count, 1)
            XCTAssertFalse(second.contains(first[0]), "the scan that found the second row deleted the first")
            XCTAssertEqual(relay.statistics.deletedRows, 1)
            XCTAssertEqual(relay.statistics.deletedInScans, 1)

            await relay.shutdown()
            let left = try await outboxIds()
            XCTAssertEqual(left, [], "shutdown deletes what no scan took")
            XCTAssertEqual(relay.statistics.deletedRows, 2)
            XCTAssertEqual(relay.statistics.deletedInScans, 1)
        }
    }
}
