@testable import DevClusterTesting
import EventSchema
import Foundation
import Kafka
import Messaging
import MessagingHarness
import Persistence
import StoreFixtures
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The harness as a real process, killed with SIGKILL at the two dangerous points and restarted.
final class CrashTests: XCTestCase {
    static func harnessOrders(_ database: any SQLDatabase) async throws -> [String: Int] {
        let rows = try await database.read { try $0.query("SELECT order_id, times FROM harness_orders", []) }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.string("order_id")!, Int($0.int("times")!)) })
    }

    /// Waits for the killed harness; fails unless it died of SIGKILL.
    static func expectKilled(_ process: ChildProcess, file: StaticString = #filePath, line: UInt = #line) {
        let result = process.wait(timeout: 90)
        XCTAssertFalse(result.timedOut, "the harness never reached its crash point; stderr:\n\(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.status, 128 + SIGKILL, "stderr:\n\(result.stderr)", file: file, line: line)
    }

    /// SIGTERM and a clean exit.
    static func stopGracefully(_ process: ChildProcess, file: StaticString = #filePath, line: UInt = #line) {
        process.signal(SIGTERM)
        let result = process.wait(timeout: 30)
        XCTAssertEqual(result.status, 0, "stderr:\n\(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains("messaging-harness: stopped"), result.stderr, file: file, line: line)
    }

    /// Killed after the database commit and before the Kafka commit: Kafka's committed offsets
    /// lag, the restarted process starts from the database's offsets, and nothing runs twice.
    func testKillBetweenDatabaseCommitAndKafkaCommit() async throws {
        for backend in Backend.allCases {
            try await withClusterAndStore(backend, migrations: HarnessService.migrations) { cluster, store in
                let orders = (0..<300).map { "crash-commit-\($0)" }
                try await cluster.produce(orders.map { HarnessService.orderPlaced(orderId: $0) })
                let database = try await store.open()

                let first = try HarnessProcess.start(cluster: cluster, database: store.url, group: "harness",
                                                     extra: ["--max-batch", "40", "--crash-after-commit-before-kafka-commit", "3"])
                Self.expectKilled(first)
                let before = try await Self.harnessOrders(database)
                XCTAssertGreaterThan(before.count, 0, "[\(backend)] batches were committed before the crash")
                XCTAssertLessThan(before.count, orders.count)

                let second = try HarnessProcess.start(cluster: cluster, database: store.url, group: "harness")
                try await eventually("all orders handled after the restart", timeout: 90) {
                    try await Self.harnessOrders(database).count == orders.count
                }
                try await eventually("outbox drained") { try await outboxCount(database) == 0 }
                Self.stopGracefully(second)

                let handled = try await Self.harnessOrders(database)
                XCTAssertTrue(handled.values.allSatisfy { $0 == 1 }, "[\(backend)] handled twice: \(handled.filter { $0.value != 1 })")
                let output = try await TopicReader.read(cluster, topic: TopicCatalog.inventory.name, minimum: orders.count)
                var idsByOrder: [String: Set<String>] = [:]
                for record in output { idsByOrder[record.orderId!, default: []].insert(record.eventId!) }
                XCTAssertEqual(Set(idsByOrder.keys), Set(orders))
                XCTAssertTrue(idsByOrder.values.allSatisfy { $0.count == 1 }, "[\(backend)] one StockReserved per order")
            }
        }
    }

    /// Killed after the broker acknowledged a relay round and before its rows were deleted: the
    /// restarted relay publishes them again, and the consuming side's inbox drops the copies.
    func testKillAfterPublishBeforeDeleteRepublishesAndTheInboxDropsCopies() async throws {
        try await withClusterAndStore(.sqlite, migrations: HarnessService.migrations) { cluster, store in
            let orders = (0..<120).map { "crash-publish-\($0)" }
            try await cluster.produce(orders.map { HarnessService.orderPlaced(orderId: $0) })
            let database = try await store.open()

            let first = try HarnessProcess.start(cluster: cluster, database: store.url, group: "harness",
                                                 extra: ["--crash-after-publish-before-delete", "1"])
            Self.expectKilled(first)
            let left = try await outboxCount(database)
            XCTAssertGreaterThan(left, 0, "the acknowledged rows are still in the outbox")

            let second = try HarnessProcess.start(cluster: cluster, database: store.url, group: "harness")
            try await eventually("all orders handled", timeout: 90) { try await Self.harnessOrders(database).count == orders.count }
            try await eventually("outbox drained") { try await outboxCount(database) == 0 }
            Self.stopGracefully(second)

            let output = try await TopicReader.read(cluster, topic: TopicCatalog.inventory.name, minimum: orders.count + 1)
            let distinct = Set(output.compactMap(\.eventId)).count
            XCTAssertEqual(distinct, orders.count)
            let copies = output.count - distinct
            XCTAssertGreaterThan(copies, 0, "the rows acknowledged before the crash were published again")

            // The consuming side: its inbox drops the copies.
            let downstream = try await TestStore.make(.sqlite, migrations: AppliedTable.migrations)
            do {
                let downstreamDatabase = try await downstream.open()
                let runtime = ConsumerRuntime(
                    configuration: ConsumerConfiguration(groupID: "downstream", topics: [TopicCatalog.inventory.name], kafka: cluster.kafka),
                    database: downstreamDatabase, logger: quietLogger("test.downstream")) { event, unit in
                        try AppliedTable.record(event, on: unit.connection)
                        return .applied
                    }
                let running = RunningRuntime(runtime)
                try await eventually("downstream consumed every record") {
                    let stats = runtime.statistics
                    return stats.handled + stats.skippedInbox >= output.count
                }
                try await running.stop()
                let applied = try await AppliedTable.counts(downstreamDatabase)
                XCTAssertEqual(applied.count, orders.count)
                XCTAssertTrue(applied.values.allSatisfy { $0 == 1 })
                XCTAssertEqual(runtime.statistics.skippedInbox, copies)
            } catch {
                await downstream.tearDown()
                throw error
            }
            await downstream.tearDown()
        }
    }
}
