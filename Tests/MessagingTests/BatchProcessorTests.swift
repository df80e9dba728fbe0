import DevClusterTesting
import EventSchema
import Foundation
import Kafka
import Logging
@testable import Messaging
@testable import Persistence
import StoreFixtures
import XCTest

/// The batch transaction without Kafka: offsets, inbox, dead letters, retries, on both backends.
final class BatchProcessorTests: XCTestCase {
    static let topic = TopicCatalog.orders.name

    func makeProcessor(_ database: any SQLDatabase, group: String = "g", maxUnclassified: Int = 5,
                       handledEventTypes: Set<EventType>? = nil,
                       handler: @escaping EventHandler = { event, unit in
                           try AppliedTable.record(event, on: unit.connection)
                           return .applied
                       }) -> BatchProcessor {
        Self.makeProcessor(database, group: group, maxUnclassified: maxUnclassified, handledEventTypes: handledEventTypes, handler: handler)
    }

    static func makeProcessor(_ database: any SQLDatabase, group: String = "g", maxUnclassified: Int = 5,
                              handledEventTypes: Set<EventType>? = nil, handler: @escaping EventHandler) -> BatchProcessor {
        let configuration = ConsumerConfiguration(
            groupID: group, topics: [Self.topic], kafka: KafkaConfiguration(bootstrapServers: "unused:9092"),
            retry: RetryPolicy(initialDelay: .milliseconds(5), maximumDelay: .milliseconds(20)),
            maxAttemptsForUnclassifiedErrors: maxUnclassified, handledEventTypes: handledEventTypes)
        return BatchProcessor(configuration: configuration, database: database, metrics: ConsumerMetrics(group: group),
                              logger: Logger(label: "test.batch"), handler: handler)
    }

    func process(_ processor: BatchProcessor, _ messages: [ConsumedMessage],
                 known: [TopicPartition: Int64] = [:]) async throws -> BatchProcessor.Outcome {
        try await Self.process(processor, messages, known: known)
    }

    static func process(_ processor: BatchProcessor, _ messages: [ConsumedMessage],
                        known: [TopicPartition: Int64] = [:]) async throws -> BatchProcessor.Outcome {
        let (prepared, skipped) = processor.prepare(messages, knownOffsets: known)
        var outcome = try await processor.commit(prepared) { false }
        outcome.skippedOffset += skipped
        return outcome
    }

    static func storedOffsets(_ database: any SQLDatabase, group: String = "g") async throws -> [TopicPartition: Int64] {
        try await database.read { try OffsetStore.load(group: group, on: $0) }
    }

    func testOffsetsAndInboxSkipRedeliveriesAndCopies() async throws {
        try await forEachBackend { store in
            _ = try await store.open()
            let database = try await store.open()
            try await database.migrate(AppliedTable.migrations)
            let processor = makeProcessor(database)
            var messages = (0..<14).map { Events.consumed(Events.orderPlaced("o\($0)"), offset: Int64($0)) }

            var outcome = try await process(processor, Array(messages[0..<10]))
            XCTAssertEqual(outcome.handled, 10)
            XCTAssertEqual(outcome.storedOffsets, [TopicPartition(topic: Self.topic, partition: 0): 9])

            // A new owner that has not seen the commit redelivers 5...12: the fence skips 5...9.
            outcome = try await process(processor, Array(messages[5..<13]))
            XCTAssertEqual(outcome.skippedOffset, 5, "[\(store.backend)]")
            XCTAssertEqual(outcome.handled, 3)

            // With the stored offset known, the runtime drops them before the transaction.
            outcome = try await process(processor, Array(messages[11..<14]),
                                        known: [TopicPartition(topic: Self.topic, partition: 0): 12])
            XCTAssertEqual(outcome.skippedOffset, 2)
            XCTAssertEqual(outcome.handled, 1)

            // The relay published offset 13's event again (new offset, same event id), and one
            // event twice inside one batch.
            let copy = messages[13]
            messages.append(ConsumedMessage(topic: copy.topic, partition: 0, offset: 14, key: copy.key, value: copy.value,
                                            headers: copy.headers, timestampMs: nil))
            let twice = Events.consumed(Events.orderPlaced("o15"), offset: 15)
            messages.append(twice)
            messages.append(ConsumedMessage(topic: twice.topic, partition: 0, offset: 16, key: twice.key, value: twice.value,
                                            headers: twice.headers, timestampMs: nil))
            outcome = try await process(processor, Array(messages[14...]))
            XCTAssertEqual(outcome.skippedInbox, 2, "[\(store.backend)]")
            XCTAssertEqual(outcome.handled, 1)

            let counts = try await AppliedTable.counts(database)
            XCTAssertEqual(counts.count, 15)
            XCTAssertTrue(counts.values.allSatisfy { $0 == 1 }, "[\(store.backend)] applied twice: \(counts.filter { $0.value != 1 })")
            let stored = try await Self.storedOffsets(database)
            XCTAssertEqual(stored, [TopicPartition(topic: Self.topic, partition: 0): 16])
        }
    }

    /// Types the handler does not act on are routed by header: no decode, no inbox row, no
    /// handler call, but their offsets advance with the batch.
    func testEventTypesTheHandlerDoesNotActOnOnlyAdvanceTheOffset() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            try await database.migrate(AppliedTable.migrations)
            let processor = makeProcessor(database, handledEventTypes: [.orderPlaced])
            let messages = [
                Events.consumed(Events.stockReserved("a"), offset: 0),
                Events.consumed(Events.orderPlaced("b"), offset: 1),
                Events.consumed(Events.stockReserved("c"), offset: 2),
            ]
            let outcome = try await process(processor, messages)
            XCTAssertEqual(outcome.handled, 1)
            XCTAssertEqual(outcome.skippedNotHandled, 2)
            let applied = try await AppliedTable.counts(database)
            XCTAssertEqual(applied.count, 1, "[\(store.backend)] only OrderPlaced reached the handler")
            let inboxRows = try await database.read { try $0.query("SELECT COUNT(*) AS n FROM inbox").first?.int("n") }
            XCTAssertEqual(inboxRows, 1, "[\(store.backend)] only the handled event is in the inbox")
            // StockReserved lives on inventory.v1: both partitions' offsets advance.
            let stored = try await Self.storedOffsets(database)
            XCTAssertEqual(stored, [TopicPartition(topic: Self.topic, partition: 0): 1,
                                    TopicPartition(topic: TopicCatalog.inventory.name, partition: 0): 2])
        }
    }

    /// A batch of nothing but ignored types needs no transaction: nothing is written, the offsets
    /// advance in the outcome only, and the next real batch stores past them.
    func testABatchOfOnlyIgnoredTypesWritesNothing() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            try await database.migrate(AppliedTable.migrations)
            let processor = makeProcessor(database, handledEventTypes: [.orderPlaced])
            let inventory = TopicPartition(topic: TopicCatalog.inventory.name, partition: 0)
            let ignored = try await process(processor, [
                Events.consumed(Events.stockReserved("a"), offset: 0),
                Events.consumed(Events.stockReserved("b"), offset: 1),
            ])
            XCTAssertFalse(ignored.committedTransaction)
            XCTAssertEqual(ignored.skippedNotHandled, 2)
            XCTAssertEqual(ignored.storedOffsets, [inventory: 1])
            let storedBefore = try await Self.storedOffsets(database)
            XCTAssertEqual(storedBefore, [:], "[\(store.backend)] no offset row for an ignored-only batch")

            let mixed = try await process(processor, [
                Events.consumed(Events.stockReserved("c"), offset: 2),
                Events.consumed(Events.orderPlaced("d"), offset: 3),
            ], known: ignored.storedOffsets)
            XCTAssertTrue(mixed.committedTransaction)
            XCTAssertEqual(mixed.handled, 1)
            let storedAfter = try await Self.storedOffsets(database)
            XCTAssertEqual(storedAfter, [TopicPartition(topic: Self.topic, partition: 0): 3, inventory: 2])
        }
    }

    func testPoisonAndRejectedMessagesAreDeadLetteredAndThePartitionFlows() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            try await database.migrate(AppliedTable.migrations)
            let processor = makeProcessor(database) { event, unit in
                try AppliedTable.record(event, on: unit.connection)
                if event.envelope.orderId == "reject-me" { throw HandlerError.permanent("customer is blocked") }
                return .applied
            }
            var unknown = Events.consumed(Events.orderPlaced("o4"), offset: 4)
            unknown = ConsumedMessage(
                topic: unknown.topic, partition: 0, offset: 4, key: unknown.key, value: unknown.value,
                headers: unknown.headers.map { $0.key == "event-type" ? KafkaHeader(key: "event-type", text: "OrderTeleported") : $0 },
                timestampMs: nil)
            let batch = [
                Events.consumed(Events.orderPlaced("o0"), offset: 0),
                Events.garbage(offset: 1),
                Events.consumed(Events.orderPlaced("reject-me"), offset: 2),
                Events.consumed(Events.orderPlaced("o3"), offset: 3),
                unknown,
            ]
            let outcome = try await process(processor, batch)
            XCTAssertEqual(outcome.handled, 2)
            XCTAssertEqual(outcome.deadLetters.map(\.message.offset), [1, 2])
            XCTAssertEqual(outcome.deadLetters.map(\.kind), [.undecodable, .rejected])
            XCTAssertEqual(outcome.skippedUnknownType, 1)
            XCTAssertEqual(outcome.retries, 1, "one replay without the rejected message")

            let applied = try await database.read { try $0.query("SELECT order_id FROM applied ORDER BY order_id", []) }
            XCTAssertEqual(applied.map { $0.string("order_id")! }, ["o0", "o3"],
                           "[\(store.backend)] the rejected handler's own write is rolled back")
            let letters = try await UnitOfWorkTests.outbox(database).compactMap { stored -> Saga_V1_DeadLetter? in
                if case .deadLetter(let letter) = stored.decoded.event { return letter }
                return nil
            }
            XCTAssertEqual(letters.map(\.originOffset), [1, 2])
            XCTAssertEqual(letters.map(\.originTopic), [Self.topic, Self.topic])
            XCTAssertEqual(letters.map(\.errorKind), [.undecodable, .rejected])
            XCTAssertTrue(letters[0].error.contains("event-type"), letters[0].error)
            XCTAssertEqual(letters[1].error, "customer is blocked")
            XCTAssertEqual(letters[1].orderID, "reject-me")
            let stored = try await Self.storedOffsets(database)
            XCTAssertEqual(stored, [TopicPartition(topic: Self.topic, partition: 0): 4])
        }
    }

    func testTransientErrorsRetryTheBatchWithoutSkipping() async throws {
        final class Failures: @unchecked Sendable {
            let lock = NSLock()
            var left = 3
            func take() -> Bool { lock.withLock { left -= 1; return left >= 0 } }
        }
        try await forEachBackend { store in
            let database = try await store.open()
            try await database.migrate(AppliedTable.migrations)
            let failures = Failures()
            let processor = makeProcessor(database) { event, unit in
                try AppliedTable.record(event, on: unit.connection)
                if event.envelope.orderId == "o1" && failures.take() {
                    throw failures.left % 2 == 0 ? SQLError.transient("database is locked") : HandlerError.transient("dependency down")
                }
                return .applied
            }
            let batch = (0..<3).map { Events.consumed(Events.orderPlaced("o\($0)"), offset: Int64($0)) }
            let outcome = try await process(processor, batch)
            XCTAssertEqual(outcome.handled, 3)
            XCTAssertEqual(outcome.retries, 3)
            XCTAssertTrue(outcome.deadLetters.isEmpty)
            let counts = try await AppliedTable.counts(database)
            XCTAssertEqual(counts.count, 3)
            XCTAssertTrue(counts.values.allSatisfy { $0 == 1 }, "[\(store.backend)] rolled-back attempts left nothing behind")
        }
    }

    /// A batch retried after a rollback hands the runtime the `afterCommit` actions of the
    /// attempt that committed only: a failed attempt's actions are gone with its transaction.
    func testOnlyTheCommittedAttemptsAfterCommitActionsAreHandedOn() async throws {
        final class Attempts: @unchecked Sendable {
            let lock = NSLock()
            var failuresLeft = 2
            var ran: [String] = []
            func fail() -> Bool { lock.withLock { failuresLeft -= 1; return failuresLeft >= 0 } }
            func run(_ orderId: String) { lock.withLock { ran.append(orderId) } }
        }
        try await forEachBackend { store in
            let database = try await store.open()
            try await database.migrate(AppliedTable.migrations)
            let attempts = Attempts()
            let processor = makeProcessor(database) { event, unit in
                try AppliedTable.record(event, on: unit.connection)
                let orderId = event.envelope.orderId
                unit.afterCommit { attempts.run(orderId) }
                if orderId == "o2" && attempts.fail() { throw SQLError.transient("database is locked") }
                return .applied
            }
            let batch = (0..<3).map { Events.consumed(Events.orderPlaced("o\($0)"), offset: Int64($0)) }
            let outcome = try await process(processor, batch)
            XCTAssertEqual(outcome.retries, 2)
            XCTAssertEqual(attempts.ran, [], "[\(store.backend)] an action ran before the runtime took the outcome")
            outcome.commitActions.forEach { $0() }
            XCTAssertEqual(attempts.ran, ["o0", "o1", "o2"], "[\(store.backend)] the committed attempt's actions, once each")
        }
    }

    func testUnclassifiedErrorsAreRetriedThenDeadLettered() async throws {
        struct Bug: Error {}
        try await forEachBackend { store in
            let database = try await store.open()
            try await database.migrate(AppliedTable.migrations)
            let processor = makeProcessor(database, maxUnclassified: 3) { event, unit in
                if event.envelope.orderId == "o1" { throw Bug() }
                try AppliedTable.record(event, on: unit.connection)
                return .applied
            }
            let batch = (0..<3).map { Events.consumed(Events.orderPlaced("o\($0)"), offset: Int64($0)) }
            let outcome = try await process(processor, batch)
            XCTAssertEqual(outcome.handled, 2)
            XCTAssertEqual(outcome.deadLetters.map(\.message.offset), [1])
            XCTAssertEqual(outcome.retries, 3)
        }
    }

    /// A member that lost its partitions mid-batch and a new owner process the same messages at
    /// once: the new owner's transaction waits on the offset rows and then skips everything.
    func testOffsetFenceStopsASecondOwnerFromApplyingTheSameBatch() async throws {
        try await forEachBackend { store in
            let first = try await store.open()
            try await first.migrate(AppliedTable.migrations)
            let second = try await store.open()
            let gate = Gate()
            let entered = Gate()
            let slow = makeProcessor(first) { event, unit in
                if event.offset == 0 {
                    entered.open()
                    try gate.block()
                }
                try AppliedTable.record(event, on: unit.connection)
                return .applied
            }
            let fast = makeProcessor(second)
            let batch = (0..<5).map { Events.consumed(Events.orderPlaced("o\($0)"), offset: Int64($0)) }
            let slowRun = Task { try await Self.process(slow, batch) }
            try await entered.wait()
            let fastRun = Task { try await Self.process(fast, batch) }
            if store.backend == .postgres {
                // The second transaction is blocked on the first one's lock before we let the first go.
                let monitor = try await store.open()
                try await eventually("second owner waiting on a lock") {
                    let rows = try await monitor.read {
                        try $0.query("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()", [])
                    }
                    return (rows.first?.int("n") ?? 0) > 0
                }
            } else {
                // SQLite runs both transactions in place, on cooperative threads (two on a 2-core
                // machine) that both block: the first in its handler holding the write lock, the
                // second in BEGIN IMMEDIATE (the busy handler). Only a thread of its own can see
                // the second writer in its transaction and then let the first go.
                let waiting = try XCTUnwrap(second as? SQLiteDatabase)
                let sawWaiting = Gate()
                Thread {
                    let deadline = Date().addingTimeInterval(30)
                    while waiting.writersWaitingOrRunning == 0, Date() < deadline { usleep(500) }
                    if waiting.writersWaitingOrRunning > 0 { sawWaiting.open() }
                    gate.open()
                }.start()
                try await sawWaiting.wait(timeout: 60)
            }
            if store.backend == .postgres { gate.open() }
            let slowOutcome = try await slowRun.value
            let fastOutcome = try await fastRun.value
            XCTAssertEqual(slowOutcome.handled, 5)
            XCTAssertEqual(fastOutcome.handled, 0, "[\(store.backend)]")
            XCTAssertEqual(fastOutcome.skippedOffset, 5)
            XCTAssertEqual(fastOutcome.retries, 0, "[\(store.backend)] the second owner waited for the lock rather than failing on it")
            let counts = try await AppliedTable.counts(first)
            XCTAssertEqual(counts.count, 5)
            XCTAssertTrue(counts.values.allSatisfy { $0 == 1 })
        }
    }

    func testInboxPruning() async throws {
        try await forEachBackend { store in
            let database = try await store.open()
            let ids = (0..<7).map { _ in UUID() }
            let inserted = try await database.write { try InboxStore.insertNew(group: "g", ids: ids, on: $0) }
            XCTAssertEqual(inserted, Set(ids))
            let again = try await database.write { try InboxStore.insertNew(group: "g", ids: Array(ids.prefix(3)) + [UUID()], on: $0) }
            XCTAssertEqual(again.count, 1)
            let pruned = try await database.write {
                try InboxStore.prune(group: "g", receivedBefore: WallClock.nowMillis() + 1000, limit: 5, on: $0)
            }
            XCTAssertEqual(pruned, 5)
            let left = try await database.read { try $0.query("SELECT count(*) AS n FROM inbox", []) }
            XCTAssertEqual(left.first?.int("n"), 3)
        }
    }

    /// Handlers emit per order; from the second batch on the runtime takes the batch's sequence
    /// rows up front. Meanwhile other transactions emit for the same orders: per order, the
    /// outbox (in id order) holds sequences 1...n, no gap, no repeat.
    func testBatchEmitsAndConcurrentWritersKeepSequencesPerOrder() async throws {
        try await forEachBackend { store in
            let database = try await store.open(poolSize: 4)
            try await database.migrate(AppliedTable.migrations)
            let processor = makeProcessor(database) { event, unit in
                try AppliedTable.record(event, on: unit.connection)
                try unit.emit(Events.stockReserved(event.envelope.orderId), causedBy: event.envelope.cause)
                return .applied
            }
            let orders = (0..<6).map { "seq-\($0)" }
            var offset: Int64 = 0
            func batch() -> [ConsumedMessage] {
                orders.map { order in
                    defer { offset += 1 }
                    return Events.consumed(Events.orderPlaced(order), offset: offset)
                }
            }
            let first = batch(), second = batch(), third = batch()
            _ = try await Self.process(processor, first)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    _ = try await Self.process(processor, second)
                    _ = try await Self.process(processor, third)
                }
                group.addTask {
                    for round in 0..<5 {
                        for order in orders where round % 2 == 0 || order.hasSuffix("1") {
                            _ = try await database.unitOfWork { try $0.emit(Events.stockReserved(order)) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let stored = try await UnitOfWorkTests.outbox(database).filter { $0.topic == TopicCatalog.inventory.name }
            for order in orders {
                let sequences = stored.filter { $0.decoded.envelope.orderId == order }.map(\.decoded.envelope.sequence)
                XCTAssertEqual(sequences, Array(1...Int64(sequences.count)), "[\(store.backend)] \(order)")
                XCTAssertGreaterThanOrEqual(sequences.count, 6)
            }
        }
    }
}
