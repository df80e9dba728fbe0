import EventSchema
import Foundation
@testable import InventoryService
import Kafka
import Logging
@testable import Messaging
@testable import PaymentService
import Persistence
import ServiceKit
import XCTest
@testable import DevClusterTesting

/// Several instances of one service on one PostgreSQL database, racing on the same rows.
final class ConcurrentInstancesTests: XCTestCase {
    func database(_ schemas: PostgresSchemas, _ name: String, migrations: [Migration], poolSize: Int = 4) async throws -> any SQLDatabase {
        let database = try await openDatabase(url: try schemas.url(for: name) + "&pool_size=\(poolSize)")
        try await database.migrate(MessagingSchema.migrations + migrations)
        return database
    }

    static func inbound(_ event: SagaEvent, topic: String, offset: Int64, group: String) -> InboundEvent {
        let envelope = EventEnvelope(for: event, sequence: 1)
        let message = ConsumedMessage(topic: topic, partition: 0, offset: offset, key: envelope.key, value: event.encodePayload(),
                                      headers: envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) }, timestampMs: nil)
        return InboundEvent(decoded: try! DecodedEvent(envelope: envelope, event: event), message: message,
                            consumerGroup: group, logger: Logger(label: "test"))
    }

    /// Payment's first touch of an order from two topics at once, in two members: StockReserved
    /// (inventory.v1) inserts the charge while OrderCancelled (orders.v1) tries to insert its
    /// tombstone. Before, the second INSERT failed on the primary key, a permanent error: that
    /// event was dead-lettered and the charge never refunded. Now the loser's insert does
    /// nothing, it decides again on the winner's row, and refunds.
    func testFirstTouchFromTwoTopicsAtOnceDeadLettersNeither() async throws {
        let schemas = try PostgresSchemas(prefix: "first_touch")
        defer { schemas.drop() }
        let database = try await database(schemas, "payment", migrations: PaymentSchema.migrations)
        defer { Task { await database.close() } }
        try await database.write { try PaymentStore.seed([.init(customerId: "C-1", balance: 10_000)], currency: "EUR", on: $0) }

        var reserved = Saga_V1_StockReserved()
        reserved.orderID = "race-1"
        reserved.customerID = "C-1"
        reserved.amount = Saga_V1_Money(minorUnits: 700, currency: "EUR")
        var cancelled = Saga_V1_OrderCancelled()
        cancelled.orderID = "race-1"
        cancelled.customerID = "C-1"
        cancelled.reason = .timeout
        let charge = Self.inbound(.stockReserved(reserved), topic: TopicCatalog.inventory.name, offset: 1, group: "payment")
        let cancel = Self.inbound(.orderCancelled(cancelled), topic: TopicCatalog.orders.name, offset: 1, group: "payment")

        let chargeInserted = Gate(), cancelWaiting = Gate()
        let first = Task {
            try await database.write { connection in
                try UnitOfWork.run(on: connection) { unit in
                    let outcome = try PaymentEventHandler.handle(charge, unit)
                    chargeInserted.open()
                    // Hold the charge uncommitted until the cancellation's insert waits on its key.
                    try cancelWaiting.block(timeout: 30)
                    return outcome
                }
            }
        }
        try await chargeInserted.wait()
        let second = Task {
            try await database.write { connection in try UnitOfWork.run(on: connection) { try PaymentEventHandler.handle(cancel, $0) } }
        }
        try await waitForLockWait(database)
        cancelWaiting.open()
        let outcomes = (try await first.value, try await second.value)
        XCTAssertEqual(outcomes.0, HandlerOutcome.applied)
        XCTAssertEqual(outcomes.1, HandlerOutcome.applied, "the cancellation decided again on the charge and refunded")
        let payment = try await database.read { try PaymentStore.payment("race-1", on: $0) }
        XCTAssertEqual(payment?.state, .refunded)
        let balance = try await database.write { try PaymentStore.account("C-1", on: $0)?.balance }
        XCTAssertEqual(balance, 10_000)
    }

    /// Another transaction waits for a lock (the first-touch insert above, on the primary key).
    private func waitForLockWait(_ database: any SQLDatabase) async throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let waiting = try await database.read { connection in
                try connection.query("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", []).first?.int("n") ?? 0
            }
            if waiting > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw SagaStack.Failure(description: "no transaction waited for the first-touch row lock")
    }

    /// Two Inventory members of one group on one database, each batch reserving random lines of
    /// five shared SKUs: the batch locks every SKU it will touch up front, in SKU order, so the
    /// members queue instead of deadlocking (PostgreSQL counts deadlocks per database).
    func testTwoInstancesOnOverlappingSkusNeverDeadlock() async throws {
        let schemas = try PostgresSchemas(prefix: "deadlock")
        defer { schemas.drop() }
        let url = try schemas.url(for: "inventory")
        let setup = try await openDatabase(url: url)
        try await setup.migrate(MessagingSchema.migrations + InventorySchema.migrations)
        let skus = (1...5).map { "SKU-\($0)" }
        try await setup.write { try InventoryStore.seed(skus.map { .init(sku: $0, unitPrice: 100, stock: 1_000_000) }, on: $0) }
        let cluster = try DevClusterHarness()
        defer { cluster.stop() }
        let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrap).merging(KafkaConfiguration.devClusterTuning)

        var rng = SystemRandomNumberGenerator()
        let orders: [OutgoingMessage] = (0..<1_200).map { index in
            var placed = Saga_V1_OrderPlaced()
            placed.orderID = "lock-\(index)"
            placed.customerID = "C-1"
            placed.lines = skus.shuffled(using: &rng).prefix(3).map {
                Saga_V1_OrderLine(sku: $0, quantity: 1, unitPrice: Saga_V1_Money(minorUnits: 100, currency: "EUR"))
            }
            placed.total = Saga_V1_Money(minorUnits: 300, currency: "EUR")
            let event = SagaEvent.orderPlaced(placed)
            let envelope = EventEnvelope(for: event, sequence: 1)
            return OutgoingMessage(topic: event.topic.name, key: envelope.key, value: event.encodePayload(),
                                   headers: envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) })
        }
        let deadlocksBefore = try await Self.deadlocks(setup)
        var logger = Logger(label: "test.inventory")
        logger.logLevel = .error
        var members: [(ConsumerRuntime, Task<Void, any Error>)] = []
        for _ in 0..<2 {
            let database = try await openDatabase(url: url)
            let runtime = ConsumerRuntime(
                configuration: ConsumerConfiguration(groupID: "inventory", topics: [TopicCatalog.orders.name], kafka: kafka,
                                                     maxBatchSize: 50, handledEventTypes: InventoryService.handledEventTypes,
                                                     outputTopics: [TopicCatalog.inventory.name]),
                database: database, logger: logger, prelude: { try InventoryEventHandler.prepare($0, $1) },
                handler: { try InventoryEventHandler.handle($0, $1) })
            members.append((runtime, Task { try await runtime.run() }))
        }
        let producer = try KafkaProducer(configuration: kafka)
        for chunk in stride(from: 0, to: orders.count, by: 100) {
            for result in try await producer.send(Array(orders[chunk..<min(chunk + 100, orders.count)])) { _ = try result.get() }
        }
        await producer.close()

        let deadline = Date().addingTimeInterval(180)
        var reserved: Int64 = 0
        while Date() < deadline {
            reserved = try await setup.read { try $0.query("SELECT COUNT(*) AS n FROM reservations WHERE state = 'RESERVED'", []).first?.int("n") ?? 0 }
            if reserved == Int64(orders.count) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        for (runtime, task) in members {
            runtime.stop()
            try await task.value
        }
        XCTAssertEqual(reserved, Int64(orders.count), "every order reserved once")
        XCTAssertGreaterThan(members[0].0.statistics.handled, 0, "both members took part")
        XCTAssertGreaterThan(members[1].0.statistics.handled, 0, "both members took part")
        let stock = try await setup.read { try $0.query("SELECT SUM(reserved)::BIGINT AS n FROM stock", []).first?.int("n") ?? 0 }
        XCTAssertEqual(stock, Int64(orders.count * 3))
        let deadlocks = try await Self.deadlocks(setup) - deadlocksBefore
        XCTAssertEqual(deadlocks, 0, "PostgreSQL detected deadlocks between the members")
        await setup.close()
    }

    static func deadlocks(_ database: any SQLDatabase) async throws -> Int64 {
        try await database.read { try $0.query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()", []).first?.int("deadlocks") ?? 0 }
    }
}
