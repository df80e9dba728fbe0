import EventSchema
import Foundation
import HostileInput
import Kafka
import Logging
@testable import Messaging
import Persistence
import PropertyBased
import StoreFixtures
import Testing

/// Generated hostile records (see `HostileRecord`) mixed with valid events, batch after batch
/// through the batch transaction, on SQLite and PostgreSQL: every valid event is applied once,
/// every hostile record is dead-lettered or skipped with a counter, no batch retries forever,
/// nothing hostile reaches an indexed column, and every dead letter is publishable.
@Suite(.serialized) struct HostileRecordTests {
    static let topics = [TopicCatalog.orders.name, TopicCatalog.inventory.name, TopicCatalog.payments.name]
    static let partitions: Int32 = 12

    struct Batch: Sendable, CustomStringConvertible {
        var hostile: [HostileRecord]
        var valid: [SagaEvent]
        var description: String { "\(valid.count) valid, \(hostile.count) hostile:\n" + hostile.map { "  \($0)" }.joined(separator: "\n") }
    }

    static let batches = Generator<Batch, Shrink.None<Batch>> { rng in
        let hostile = (0..<Int.random(in: 1...40, using: &rng)).map { _ in
            HostileRecord.generator(topic: topics.randomElement(using: &rng)!, partitionCount: partitions).run(using: &rng)
        }
        let valid = (0..<Int.random(in: 0...10, using: &rng)).map { index in
            Events.orderPlaced("valid-\(UInt32.random(in: 0 ... .max, using: &rng))-\(index)")
        }
        return Batch(hostile: hostile, valid: valid)
    }

    /// Next offset per partition across the whole run (offsets only grow, as in a real log).
    final class Offsets: @unchecked Sendable {
        private var next: [TopicPartition: Int64] = [:]
        func take(_ partition: TopicPartition) -> Int64 {
            defer { next[partition, default: 0] += 1 }
            return next[partition, default: 0]
        }
    }

    @Test(arguments: Backend.allCases)
    func everyRecordIsAppliedDeadLetteredOrCounted(backend: Backend) async throws {
        let store = try await TestStore.make(backend, migrations: AppliedTable.migrations)
        let database = try await store.open()
        defer { Task { await store.tearDown() } }
        // Not OrderConfirmed: records whose event-type header names it take the header fast path.
        let handled = Set(EventType.allCases).subtracting([.orderConfirmed])
        let configuration = ConsumerConfiguration(
            groupID: "g", topics: Self.topics, kafka: KafkaConfiguration(bootstrapServers: "unused:9092"),
            retry: RetryPolicy(initialDelay: .milliseconds(1), maximumDelay: .milliseconds(5)), handledEventTypes: handled)
        var logger = Logger(label: "test.hostile")
        logger.logLevel = .critical
        let processor = BatchProcessor(configuration: configuration, database: database, metrics: ConsumerMetrics(group: "g"),
                                       logger: logger) { event, unit in
            try AppliedTable.record(event, on: unit.connection)
            return .applied
        }
        processor.partitionCounts.update { $0 = Dictionary(uniqueKeysWithValues: Self.topics.map { ($0, Self.partitions) }) }
        let offsets = Offsets()
        var validSoFar = 0

        await propertyCheck(count: 25, input: Self.batches) { batch in
            var messages: [ConsumedMessage] = []
            for record in batch.hostile {
                let partition = TopicPartition(topic: record.topic, partition: record.partition)
                messages.append(ConsumedMessage(topic: record.topic, partition: record.partition, offset: offsets.take(partition),
                                                key: record.key, value: record.payload, headers: record.headers, timestampMs: nil))
            }
            for event in batch.valid {
                let home = Murmur2Partitioner.partition(forKey: event.orderId, partitionCount: Self.partitions)
                let partition = TopicPartition(topic: event.topic.name, partition: home)
                messages.append(Events.consumed(event, partition: home, offset: offsets.take(partition)))
            }
            // Partitions interleave in any order; each one in offset order, as Kafka delivers it.
            messages.shuffle()
            let shuffled = messages.sorted { $0.offset < $1.offset }
            let outcome = try await Self.withinBound(.seconds(60), "a batch of \(batch)") {
                let (prepared, skipped) = processor.prepare(shuffled, knownOffsets: [:])
                #expect(skipped == 0)
                return try await processor.commit(prepared) { Task.isCancelled }
            }
            validSoFar += batch.valid.count
            #expect(outcome.handled == batch.valid.count, "\(backend): \(batch)")
            let accounted = outcome.deadLetters.count + outcome.skippedUnknownType + outcome.skippedNotHandled
            #expect(accounted == batch.hostile.count, "\(backend): every hostile record dead-lettered or counted (outcome: \(outcome)): \(batch)")
        }

        // Only the valid events reached the handler, once each; nothing hostile reached an index.
        let applied = try await AppliedTable.counts(database)
        #expect(applied.count == validSoFar)
        #expect(applied.values.allSatisfy { $0 == 1 })
        let sequences = try await database.read { try $0.query("SELECT COUNT(*) AS n FROM outbox_sequences", []).first?.int("n") }
        #expect(sequences == 0, "dead letters take no sequence rows")
        let inboxIds = try await database.read { try $0.query("SELECT event_id FROM inbox", []) }
        #expect(inboxIds.allSatisfy { $0.bytes("event_id")?.count == 16 })

        // Every dead letter is a publishable record: a valid envelope, a valid or no key, a
        // payload within the limit that decodes.
        let rows = try await database.read { try $0.query("SELECT topic, key, headers, payload FROM outbox", []) }
        #expect(!rows.isEmpty)
        for row in rows {
            #expect(row.string("topic") == TopicCatalog.deadLetters.name)
            let headers = try HeaderCodec.decode(row.bytes("headers") ?? [])
            let decoded = try DecodedEvent(headers: headers.map { (name: $0.key, value: $0.value) }, payload: row.bytes("payload"),
                                           topic: TopicCatalog.deadLetters.name)
            #expect(decoded.envelope.orderId.isEmpty || EventEnvelope.isValidOrderId(decoded.envelope.orderId))
            if let key = row.bytes("key") { #expect(EventEnvelope.isValidOrderId(key)) }
            #expect((row.bytes("payload")?.count ?? 0) <= UnitOfWork.deadLetterMaxBytes)
        }
    }

    /// Fails the test instead of hanging it when `body` does not finish within `bound`.
    static func withinBound<T: Sendable>(_ bound: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: bound)
                return nil
            }
            guard let first = try await group.next(), let value = first else {
                throw TestTimeout(what: "\(what) (still retrying after \(bound))")
            }
            group.cancelAll()
            return value
        }
    }
}
