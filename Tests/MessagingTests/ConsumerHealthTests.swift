@testable import DevClusterTesting
import EventSchema
import Foundation
import Kafka
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

/// What the consumer runtime reports as unhealthy (readiness shows it), and offsets that the
/// log cannot continue from: never silently skipped.
final class ConsumerHealthTests: XCTestCase {
    func runtime(_ cluster: DevClusterHarness, _ database: any SQLDatabase, group: String, stallBound: Duration = .seconds(180),
                 policy: OffsetAnomalyPolicy = .hold, handler: @escaping EventHandler = RuntimeKafkaTests.applyingHandler) -> ConsumerRuntime {
        ConsumerRuntime(
            configuration: ConsumerConfiguration(groupID: group, topics: [TopicCatalog.orders.name], kafka: cluster.kafka,
                                                 retry: RetryPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(200)),
                                                 stallBound: stallBound, offsetAnomalyPolicy: policy),
            database: database, logger: quietLogger("test.consumer", level: .critical), handler: handler)
    }

    static func store(_ offset: Int64, for partition: TopicPartition, group: String, in database: any SQLDatabase) async throws {
        try await StoredOffsets.reset(group: group, partition: partition, lastProcessed: offset, in: database)
    }

    /// The dev cluster was restarted (or the topic recreated): the database says offset 500 of a
    /// partition was processed, the log holds 3 records. Before, the consumer asked for offset
    /// 501, librdkafka reset it to the log start, and the fence skipped the 3 new records as
    /// "already processed": silently lost. Now the partition is held, counted, reported; the
    /// other partitions flow; `kafka-tool offsets reset` (here its library call) releases it.
    func testAStoredOffsetBeyondTheLogEndHoldsThePartitionUntilReset() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let partition = TopicPartition(topic: TopicCatalog.orders.name, partition: 4)
            try await Self.store(500, for: partition, group: "beyond", in: database)
            let held = (0..<3).map { RuntimeKafkaTests.orderId(inPartition: 4, prefix: "beyond-held-\($0)") }
            let other = (0..<3).map { RuntimeKafkaTests.orderId(inPartition: 5, prefix: "beyond-other-\($0)") }
            try await cluster.produce((held + other).map { Events.outgoing(Events.orderPlaced($0)) })

            let running = RunningRuntime(runtime(cluster, database, group: "beyond"))
            try await eventually("the other partition flows") { try await AppliedTable.counts(database).count == other.count }
            let report = running.runtime.report()
            let row = try XCTUnwrap(report.partitions.first { $0.topic == partition.topic && $0.partition == 4 })
            XCTAssertNotNil(row.held, "held")
            XCTAssertTrue(report.problems.contains { $0.contains("orders.v1[4] is held") && $0.contains("beyond the log end") }, "\(report.problems)")
            XCTAssertEqual(running.runtime.statistics.offsetAnomalies, 1)

            try await Self.store(-1, for: partition, group: "beyond", in: database)
            try await eventually("released once the offset fits, and its records applied", timeout: 30) {
                try await AppliedTable.counts(database).count == held.count + other.count
            }
            XCTAssertTrue(running.runtime.report().problems.isEmpty)
            try await running.stop()
        }
    }

    /// The same with the `accept` policy: the log as it is wins, from its start; counted.
    func testTheAcceptPolicyReadsTheNewLogFromItsStart() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let partition = TopicPartition(topic: TopicCatalog.orders.name, partition: 4)
            try await Self.store(500, for: partition, group: "accept", in: database)
            let orders = (0..<3).map { RuntimeKafkaTests.orderId(inPartition: 4, prefix: "accept-\($0)") }
            try await cluster.produce(orders.map { Events.outgoing(Events.orderPlaced($0)) })
            let running = RunningRuntime(runtime(cluster, database, group: "accept", policy: .accept))
            try await eventually("the new log's records applied") { try await AppliedTable.counts(database).count == orders.count }
            XCTAssertEqual(running.runtime.statistics.offsetAnomalies, 1)
            let stored = try await StoredOffsets.load(group: "accept", from: database)
            XCTAssertEqual(stored[partition], 2)
            try await running.stop()
        }
    }

    /// Retention deleted records before they were processed (the mock keeps ~5 MiB per
    /// partition): the log starts after the stored offset. Held, not skipped over.
    func testALogStartAfterTheStoredOffsetHoldsThePartition() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let partition = TopicPartition(topic: TopicCatalog.orders.name, partition: 7)
            try await Self.store(0, for: partition, group: "retention", in: database)
            let order = RuntimeKafkaTests.orderId(inPartition: 7, prefix: "retention")
            var big = Events.outgoing(Events.orderPlaced(order))
            big.headers.append(KafkaHeader(key: "x-ballast", value: [UInt8](repeating: 1, count: 200_000)))
            try await cluster.produce(Array(repeating: big, count: 40))
            let reader = try KafkaWatermarkReader(configuration: cluster.kafka)
            let marks = try await reader.watermarks(topics: [partition.topic])[partition]!
            await reader.close()
            // The test depends on the mock deleting records: if it kept them all, say so as a failure.
            guard marks.low > 1 else {
                XCTFail("the mock kept every record (low watermark \(marks.low)): its size retention did not run, so no log start passed the stored offset")
                return
            }

            let running = RunningRuntime(runtime(cluster, database, group: "retention"))
            try await eventually("the partition held for its lost records") {
                running.runtime.report().problems.contains { $0.contains("orders.v1[7] is held") && $0.contains("deleted before they were processed") }
            }
            let applied = try await AppliedTable.counts(database)
            XCTAssertTrue(applied.isEmpty, "nothing read past the gap")
            try await running.stop()
        }
    }

    /// A handler that hangs (or a transaction waiting for a lock that never comes) fails
    /// nothing, yet the consumer makes no progress: reported past the stall bound.
    func testABatchThatHangsIsReportedPastTheStallBound() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let release = Gate()
            let running = RunningRuntime(runtime(cluster, database, group: "hang", stallBound: .seconds(1)) { event, unit in
                try release.block(timeout: 60)
                try AppliedTable.record(event, on: unit.connection)
                return .applied
            })
            try await cluster.produce([Events.outgoing(Events.orderPlaced("hang-1"))])
            try await eventually("reported", timeout: 30) {
                running.runtime.report().problems.contains { $0.contains("in hand for") }
            }
            release.open()
            try await eventually("healthy again") { running.runtime.report().problems.isEmpty }
            try await running.stop()
        }
    }

    /// A transient error that keeps failing past the stall bound: reported with its reason,
    /// counted, cleared by the commit that finally succeeds; nothing dead-lettered.
    func testATransientErrorPastTheBoundIsReportedThenClears() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let failing = OnceFlag(true)
            let running = RunningRuntime(runtime(cluster, database, group: "stall", stallBound: .milliseconds(500)) { event, unit in
                if failing.peek() { throw HandlerError.transient("the payment provider is down") }
                try AppliedTable.record(event, on: unit.connection)
                return .applied
            })
            try await cluster.produce([Events.outgoing(Events.orderPlaced("stall-1"))])
            try await eventually("reported with the reason", timeout: 30) {
                running.runtime.report().problems.contains { $0.contains("the payment provider is down") }
            }
            _ = failing.take()
            try await eventually("applied, and healthy again", timeout: 30) {
                try await AppliedTable.counts(database).count == 1 && running.runtime.report().problems.isEmpty
            }
            XCTAssertEqual(running.runtime.statistics.deadLettered, 0)
            try await running.stop()
        }
    }
}
