@testable import DevClusterTesting
import EventSchema
import Foundation
import Kafka
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

/// The relay keeps going when parts of the world do not: a blocked key, a partition whose
/// leader does not answer, a lease holder that cannot reach the brokers.
final class RelayLivenessTests: XCTestCase {
    func relay(_ cluster: DevClusterHarness, _ database: any SQLDatabase, kafka: KafkaConfiguration? = nil, batchSize: Int = 1000,
               sendTimeout: Duration = .seconds(30), unreachableBound: Duration = .seconds(30)) -> OutboxRelay {
        OutboxRelay(database: database,
                    configuration: RelayConfiguration(kafka: kafka ?? cluster.kafka, batchSize: batchSize, fallbackInterval: .milliseconds(100),
                                                      retry: RetryPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(1)),
                                                      leaseTTL: .seconds(3), sendTimeout: sendTimeout, unreachableBound: unreachableBound,
                                                      statisticsInterval: .milliseconds(100)),
                    logger: quietLogger("test.relay", level: .critical))
    }

    /// Rows queued behind a key that cannot be published (its first row is too large) must not
    /// fill the relay's read window: the keys after them are published. Before, each round read
    /// the oldest `batchSize` rows, all of the blocked key, and nothing else ever went out.
    func testRowsOfABlockedKeyDoNotHideTheKeysBehindThem() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            var huge = Saga_V1_OrderPlaced()
            huge.orderID = "blocked"
            huge.customerID = String(repeating: "x", count: 1_200_000)
            let big = SagaEvent.orderPlaced(huge)
            _ = try await database.unitOfWork { unit in
                try unit.emit(big)
                for _ in 0..<60 { try unit.emit(Events.orderPlaced("blocked")) }
                for index in 0..<5 { try unit.emit(Events.orderPlaced("behind-\(index)")) }
            }
            let relay = relay(cluster, database, batchSize: 10)
            relay.start()
            try await eventually("the keys behind the blocked one published", timeout: 30) { relay.statistics.published == 5 }
            let left = try await outboxCount(database)
            XCTAssertEqual(left, 61, "the blocked key's rows stay, in order")
            await relay.shutdown()
        }
    }

    /// A broker that holds every answer: the rows of the partitions it leads time out and are
    /// retried, in order; the rows of every other partition are published meanwhile, commit
    /// after commit. Before, a round waited for its slowest row (no send timeout) and four
    /// stuck rounds stopped the relay.
    func testAPartitionThatCannotTakeWritesHoldsBackOnlyItsKeys() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let status = try cluster.status()
            let leaders = status.topic(TopicCatalog.orders.name)!.leaders
            let paused = leaders[0]
            let stuck = Set((0..<12).filter { leaders[$0] == paused }.map(Int32.init))
            let relay = relay(cluster, database, sendTimeout: .seconds(2), unreachableBound: .seconds(120))
            relay.start()
            try await eventually("leader") { relay.statistics.isLeader }
            try cluster.pause(broker: paused, ms: 60_000)
            var freeOrders: [String] = []
            var stuckOrders: [String] = []
            for round in 0..<8 {
                let orders = (0..<12).map { RuntimeKafkaTests.orderId(inPartition: Int32($0), prefix: "part-\(round)") }
                for order in orders {
                    if stuck.contains(Murmur2Partitioner.partition(forKey: order, partitionCount: 12)) { stuckOrders.append(order) } else { freeOrders.append(order) }
                }
                _ = try await database.unitOfWork(waking: relay) { unit in for order in orders { try unit.emit(Events.orderPlaced(order)) } }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await eventually("every row of the free partitions published while the broker holds its answers", timeout: 60) {
                relay.statistics.published >= freeOrders.count
            }
            let waiting = try await outboxCount(database)
            XCTAssertEqual(waiting, stuckOrders.count, "only the paused broker's rows wait")
            try await eventually("the stuck rows time out (and are retried)", timeout: 30) { relay.statistics.failed > 0 }
            try cluster.resume(broker: paused)
            try await eventually("the stuck rows too, once the broker answers", timeout: 60) { try await outboxCount(database) == 0 }
            await relay.shutdown()
            let records = try await TopicReader.read(cluster, topic: TopicCatalog.orders.name, minimum: freeOrders.count + stuckOrders.count)
            let sequences = TopicReader.firstSequencesByOrder(records)
            for order in freeOrders + stuckOrders { XCTAssertEqual(sequences[order], [1], order) }
        }
    }

    /// Two instances share a PostgreSQL outbox. The lease holder's producer reaches no broker
    /// (here: a bootstrap nobody listens on); the other's does. The holder gives the lease up
    /// after the unreachable bound, the other takes over and publishes everything. Before, the
    /// holder renewed its lease forever and nothing was published.
    func testALeaseHolderThatCannotReachTheBrokersGivesTheLeaseUp() async throws {
        try await withClusterAndStore(.postgres) { cluster, store in
            let database = try await store.open()
            let nowhere = KafkaConfiguration(bootstrapServers: "127.0.0.1:1").merging(KafkaConfiguration.devClusterTuning)
            let cutOff = relay(cluster, database, kafka: nowhere, sendTimeout: .seconds(2), unreachableBound: .seconds(3))
            cutOff.start()
            try await eventually("the cut-off relay holds the lease") { cutOff.statistics.isLeader }
            let healthy = relay(cluster, database)
            healthy.start()
            _ = try await database.unitOfWork(waking: cutOff) { unit in
                for index in 0..<20 { try unit.emit(Events.orderPlaced("cut-\(index)")) }
            }
            try await eventually("the healthy instance took over and published", timeout: 60) { try await outboxCount(database) == 0 }
            XCTAssertGreaterThanOrEqual(cutOff.statistics.surrenders, 1)
            XCTAssertEqual(healthy.statistics.published, 20)
            XCTAssertEqual(cutOff.statistics.published, 0)
            await cutOff.shutdown()
            await healthy.shutdown()
        }
    }
}
