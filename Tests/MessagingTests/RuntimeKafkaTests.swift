@testable import DevClusterTesting
import EventSchema
import Foundation
import Kafka
import Logging
@testable import Messaging
import Persistence
import StoreFixtures
import XCTest

/// The consumer runtime and the relay against the dev cluster, in process.
final class RuntimeKafkaTests: XCTestCase {
    static let applyingHandler: EventHandler = { event, unit in
        try AppliedTable.record(event, on: unit.connection)
        return .applied
    }

    func makeRuntime(_ cluster: DevClusterHarness, _ database: any SQLDatabase, group: String, relay: OutboxRelay? = nil,
                     kafka extra: [String: String] = [:], maxBatch: Int = 500,
                     handler: @escaping EventHandler = RuntimeKafkaTests.applyingHandler) -> ConsumerRuntime {
        ConsumerRuntime(
            configuration: ConsumerConfiguration(groupID: group, topics: [TopicCatalog.orders.name],
                                                 kafka: cluster.kafka.merging(extra), maxBatchSize: maxBatch,
                                                 retry: RetryPolicy(initialDelay: .milliseconds(20), maximumDelay: .milliseconds(500))),
            database: database, relay: relay, logger: quietLogger("test.consumer", level: .notice), handler: handler)
    }

    func makeRelay(_ cluster: DevClusterHarness, _ database: any SQLDatabase) -> OutboxRelay {
        OutboxRelay(database: database,
                    configuration: RelayConfiguration(kafka: cluster.kafka, fallbackInterval: .milliseconds(200),
                                                      statisticsInterval: .milliseconds(200)),
                    logger: quietLogger("test.relay", level: .notice))
    }

    static func orderId(inPartition partition: Int32, prefix: String) -> String {
        var index = 0
        while true {
            let candidate = "\(prefix)-\(index)"
            if Murmur2Partitioner.partition(forKey: candidate, partitionCount: 12) == partition { return candidate }
            index += 1
        }
    }

    // MARK: - poison message

    func testPoisonMessageIsDeadLetteredWithItsOriginAndThePartitionKeepsFlowing() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let first = "poison-a"
            let partition = Murmur2Partitioner.partition(forKey: first, partitionCount: 12)
            let second = Self.orderId(inPartition: partition, prefix: "poison-b")
            try await cluster.produce([Events.outgoing(Events.orderPlaced(first))])
            let garbage = try Kcat.produce(cluster.bootstrap, topic: TopicCatalog.orders.name, partition: Int(partition),
                                           lines: ["this is not an event"])
            XCTAssertEqual(garbage.status, 0, garbage.stderr)
            try await cluster.produce([Events.outgoing(Events.orderPlaced(second))])

            let relay = makeRelay(cluster, database)
            relay.start()
            let running = RunningRuntime(makeRuntime(cluster, database, group: "poison", relay: relay))
            try await eventually("both valid events applied and the poison dead-lettered") {
                let stats = running.runtime.statistics
                return stats.handled == 2 && stats.deadLettered == 1
            }
            try await running.stop()
            try await eventually("dead letter published") { try await outboxCount(database) == 0 }
            await relay.shutdown()

            let letters = try await TopicReader.read(cluster, topic: TopicCatalog.deadLetters.name, minimum: 1)
            let decoded = try letters.map { try DecodedEvent(headers: $0.message.headers.map { (name: $0.key, value: $0.value) },
                                                             payload: $0.message.value, topic: $0.message.topic) }
            XCTAssertEqual(Set(decoded.map(\.envelope.eventId)).count, 1)
            guard case .deadLetter(let letter) = decoded[0].event else { return XCTFail("not a dead letter") }
            XCTAssertEqual(letter.originTopic, TopicCatalog.orders.name)
            XCTAssertEqual(letter.originPartition, partition)
            XCTAssertEqual(letter.originOffset, 1, "between the two valid events of the partition")
            XCTAssertEqual(String(decoding: letter.payload, as: UTF8.self), "this is not an event")
            XCTAssertTrue(letter.error.contains("missing header"), letter.error)
            XCTAssertEqual(letter.errorKind, .undecodable)
            XCTAssertEqual(letter.consumerGroup, "poison")

            let applied = try await database.read { try $0.query("SELECT order_id FROM applied ORDER BY order_id", []) }
            XCTAssertEqual(applied.map { $0.string("order_id")! }, [first, second].sorted(), "the partition kept flowing")
            let offsets = try await database.read { try OffsetStore.load(group: "poison", on: $0) }
            XCTAssertEqual(offsets[TopicPartition(topic: TopicCatalog.orders.name, partition: partition)], 2)
        }
    }

    // MARK: - relay outages

    /// Emits `perOrder` events for each order, one transaction each, waking the relay.
    func emit(_ database: any SQLDatabase, relay: OutboxRelay, orders: [String], perOrder: Int) async throws {
        for _ in 0..<perOrder {
            for order in orders {
                _ = try await database.unitOfWork(waking: relay) { try $0.emit(Events.orderPlaced(order)) }
            }
        }
    }

    func checkPublishedInOrder(_ cluster: DevClusterHarness, orders: [String], perOrder: Int) async throws {
        let records = try await TopicReader.read(cluster, topic: TopicCatalog.orders.name, minimum: orders.count * perOrder)
        XCTAssertEqual(Set(records.compactMap(\.eventId)).count, orders.count * perOrder, "every event published")
        let sequences = TopicReader.firstSequencesByOrder(records)
        for order in orders {
            XCTAssertEqual(sequences[order], Array(1...Int64(perOrder)), "per-key order of \(order)")
        }
    }

    func testRelayPublishesEverythingInPerKeyOrderAfterBrokersWereDown() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let relay = makeRelay(cluster, database)
            relay.start()
            let orders = (0..<6).map { "outage-\($0)" }
            try await emit(database, relay: relay, orders: orders, perOrder: 2)
            try await eventually("first events published") { relay.statistics.published == 12 }

            for broker in 1...3 { try cluster.down(broker: broker) }
            try await emit(database, relay: relay, orders: orders, perOrder: 5)
            try await eventually("rows waiting reported") { relay.statistics.pendingRows == 30 }
            XCTAssertEqual(relay.statistics.published, 12)
            XCTAssertGreaterThan(relay.statistics.oldestAgeSeconds, 0)
            for broker in 1...3 { try cluster.up(broker: broker) }

            try await eventually("outbox drained after the brokers came back") { try await outboxCount(database) == 0 }
            await relay.shutdown()
            try await checkPublishedInOrder(cluster, orders: orders, perOrder: 7)
        }
    }

    func testRelayPublishesEverythingInPerKeyOrderAfterBrokersWerePaused() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            let relay = makeRelay(cluster, database)
            relay.start()
            let orders = (0..<6).map { "paused-\($0)" }
            try await emit(database, relay: relay, orders: orders, perOrder: 2)
            for broker in 1...3 { try cluster.pause(broker: broker) }
            try await emit(database, relay: relay, orders: orders, perOrder: 4)
            // Past socket.timeout.ms (5 s): requests time out, the client reconnects and retries
            // (the mock appends the retried records again). The wait makes the fault, it asserts nothing.
            try await Task.sleep(for: .seconds(6))
            let waiting = try await outboxCount(database)
            XCTAssertGreaterThan(waiting, 0, "nothing acknowledged while paused")
            for broker in 1...3 { try cluster.resume(broker: broker) }
            try await eventually("outbox drained after resume") { try await outboxCount(database) == 0 }
            await relay.shutdown()
            try await checkPublishedInOrder(cluster, orders: orders, perOrder: 6)
        }
    }

    // MARK: - the outbox gap (PostgreSQL: ids are taken at insert, visible at commit)

    func testLateCommittingLowerIdIsStillPublishedAndPerKeyOrderHolds() async throws {
        try await withClusterAndStore(.postgres) { cluster, store in
            let database = try await store.open(poolSize: 4)
            let relay = makeRelay(cluster, database)
            relay.start()

            // A takes the lower outbox id and commits last; B commits meanwhile and is published.
            let aInserted = Gate(), aRelease = Gate()
            let transactionA = Task {
                try await database.write { connection -> Int64 in
                    try UnitOfWork.run(on: connection) { _ = try $0.emit(Events.orderPlaced("gap-a")) }
                    let id = try connection.query("SELECT max(id) AS id FROM outbox", []).first?.int("id") ?? -1
                    aInserted.open()
                    try aRelease.block()
                    return id
                }
            }
            try await aInserted.wait()
            let idB = try await database.write { connection -> Int64 in
                try UnitOfWork.run(on: connection) { _ = try $0.emit(Events.orderPlaced("gap-b")) }
                return try connection.query("SELECT max(id) AS id FROM outbox", []).first?.int("id") ?? -1
            }
            relay.wake()
            try await eventually("B published while A is still open") { relay.statistics.published == 1 }

            // Same key: C holds the sequence row of "gap-k"; D must wait for it, and gets the next
            // sequence and a higher outbox id.
            let cInserted = Gate(), cRelease = Gate()
            let transactionC = Task {
                try await database.write { connection -> Int64 in
                    let envelope = try UnitOfWork.run(on: connection) { try $0.emit(Events.orderPlaced("gap-k")) }
                    cInserted.open()
                    try cRelease.block()
                    return envelope.sequence
                }
            }
            try await cInserted.wait()
            let transactionD = Task { try await database.unitOfWork(waking: relay) { try $0.emit(Events.orderPlaced("gap-k")).sequence } }
            let monitor = try await store.open(poolSize: 1)
            try await eventually("D waiting for C's sequence row") {
                let rows = try await monitor.read {
                    try $0.query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", [])
                }
                return (rows.first?.int("n") ?? 0) > 0
            }
            cRelease.open()
            let sequenceC = try await transactionC.value
            let sequenceD = try await transactionD.value
            XCTAssertEqual([sequenceC, sequenceD], [1, 2])

            aRelease.open()
            let idA = try await transactionA.value
            XCTAssertLessThan(idA, idB, "A took the lower id and committed after B")
            relay.wake()
            try await eventually("all four published") { relay.statistics.published == 4 }
            try await eventually("outbox empty") { try await outboxCount(database) == 0 }
            await relay.shutdown()

            let records = try await TopicReader.read(cluster, topic: TopicCatalog.orders.name, minimum: 4)
            let sequences = TopicReader.firstSequencesByOrder(records)
            XCTAssertEqual(sequences["gap-a"], [1], "A's row (id \(idA), lower than B's) was not skipped")
            XCTAssertEqual(sequences["gap-b"], [1])
            XCTAssertEqual(sequences["gap-k"], [1, 2])
        }
    }

    // MARK: - rebalance while a batch is in hand

    /// Member A is stuck in a batch long enough to be thrown out of the group; B takes the
    /// partitions, reads the stored offsets (A has not committed) and receives the same messages.
    /// A commits; B's transaction waits for A's and then skips what A applied (stored offset).
    /// All orders sit in one partition, so whatever B polls overlaps A's batch.
    func testRebalanceMidBatchRedeliversButNothingIsAppliedTwice() async throws {
        for backend in Backend.allCases {
            try await withClusterAndStore(backend) { cluster, store in
                let orders = (0..<48).map { Self.orderId(inPartition: 5, prefix: "rebalance-\($0)") }
                try await cluster.produce(orders.map { Events.outgoing(Events.orderPlaced($0)) })
                let databaseA = try await store.open()
                let databaseB = try await store.open()
                let entered = Gate(), release = Gate()
                let stuck = OnceFlag(true)
                let runtimeA = makeRuntime(cluster, databaseA, group: "rebalance",
                                           kafka: ["max.poll.interval.ms": "3000"]) { event, unit in
                    if stuck.take() {
                        entered.open()
                        try release.block(timeout: 60)
                    }
                    try AppliedTable.record(event, on: unit.connection)
                    return .applied
                }
                let a = RunningRuntime(runtimeA)
                try await entered.wait(timeout: 60)
                let b = RunningRuntime(makeRuntime(cluster, databaseB, group: "rebalance"))
                try await eventually("B assigned and holding a batch A has not committed") {
                    b.runtime.statistics.polled > 0
                }
                release.open()
                try await eventually("every order applied") { try await AppliedTable.counts(databaseB).count == orders.count }
                try await eventually("A and B together saw every message") {
                    a.runtime.statistics.handled + b.runtime.statistics.handled == orders.count
                }
                // A alone can satisfy both conditions above while B's batch still waits for the
                // lock (or backs off after a busy timeout); stopping then would abandon it unseen.
                try await eventually("B settled the batch it held") { b.runtime.statistics.batches > 0 }
                try await a.stop()
                try await b.stop()
                let counts = try await AppliedTable.counts(databaseB)
                XCTAssertTrue(counts.values.allSatisfy { $0 == 1 }, "[\(backend)] applied twice: \(counts.filter { $0.value != 1 })")
                let skipped = a.runtime.statistics.skippedOffset + b.runtime.statistics.skippedOffset
                XCTAssertGreaterThan(skipped, 0, "[\(backend)] the redelivered messages were skipped by offset")
            }
        }
    }
}

/// A flag read and cleared atomically.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Bool
    init(_ value: Bool) { self.value = value }
    func take() -> Bool { lock.withLock { defer { value = false }; return value } }
    func peek() -> Bool { lock.withLock { value } }
}

extension RuntimeKafkaTests {
    /// Two service instances on one PostgreSQL database: one relay publishes; when it stops,
    /// the other takes over.
    func testOnlyOneRelayPublishesAndTheOtherTakesOver() async throws {
        try await withClusterAndStore(.postgres) { cluster, store in
            let database = try await store.open()
            let first = makeRelay(cluster, database)
            let second = makeRelay(cluster, database)
            first.start()
            second.start()
            try await eventually("one leader") { first.statistics.isLeader != second.statistics.isLeader }
            let (leader, standby) = first.statistics.isLeader ? (first, second) : (second, first)

            let orders = (0..<5).map { "lease-\($0)" }
            try await emit(database, relay: leader, orders: orders, perOrder: 4)
            try await eventually("published by the leader") { try await outboxCount(database) == 0 }
            XCTAssertEqual(leader.statistics.published, 20)
            XCTAssertEqual(standby.statistics.published, 0)
            XCTAssertFalse(standby.statistics.isLeader)

            await leader.shutdown()
            try await eventually("the standby took over") { standby.statistics.isLeader }
            try await emit(database, relay: standby, orders: orders, perOrder: 2)
            try await eventually("published by the new leader") { try await outboxCount(database) == 0 }
            XCTAssertEqual(standby.statistics.published, 10)
            await standby.shutdown()
            try await checkPublishedInOrder(cluster, orders: orders, perOrder: 6)
        }
    }
}

extension RuntimeKafkaTests {
    /// A row librdkafka refuses (larger than message.max.bytes) fails alone and holds back only
    /// its key: the key's later row stays in the outbox, unsent, and other keys are published.
    /// (Enqueued together, the later row would be acknowledged although the earlier one failed.)
    func testAnUnpublishableRowHoldsBackOnlyItsKey() async throws {
        try await withClusterAndStore(.sqlite) { cluster, store in
            let database = try await store.open()
            var huge = Saga_V1_OrderPlaced()
            huge.orderID = "too-big"
            huge.customerID = String(repeating: "x", count: 1_200_000)
            let big = SagaEvent.orderPlaced(huge)
            _ = try await database.unitOfWork { unit in
                try unit.emit(big)
                try unit.emit(Events.orderPlaced("too-big"))
                try unit.emit(Events.orderPlaced("fine"))
                try unit.emit(Events.orderPlaced("fine"))
            }
            let relay = makeRelay(cluster, database)
            relay.start()
            try await eventually("the other key published, the big row failed") {
                relay.statistics.published == 2 && relay.statistics.failed >= 1
            }
            XCTAssertEqual(relay.statistics.published, 2)
            // A few retries of the big row later, its key's second row is still held back.
            try await eventually("retried") { relay.statistics.failed >= 2 }
            let left = try await database.read { try $0.query("SELECT id FROM outbox ORDER BY id", []) }
            XCTAssertEqual(left.count, 2, "both rows of the blocked key stay")
            XCTAssertEqual(relay.statistics.published, 2)
            await relay.shutdown()
            let records = try await TopicReader.read(cluster, topic: TopicCatalog.orders.name, minimum: 2)
            XCTAssertEqual(TopicReader.firstSequencesByOrder(records), ["fine": [1, 2]])
        }
    }
}
