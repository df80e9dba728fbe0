import Credentials
import EventSchema
import Foundation
import Kafka
import Logging
@testable import Messaging
@testable import Persistence
import StoreFixtures
import XCTest

/// The batch transaction with an authenticator, on both backends: a record its topic's writer
/// did not sign is dead-lettered as unauthenticated and never handled, and a forged copy that
/// carries a real event's id, arriving first, does not make the real one a duplicate.
final class RecordAuthenticationBatchTests: XCTestCase {
    static let topic = TopicCatalog.orders.name

    func testOnlyTheWritersRecordsAreHandledAndAForgedCopyCannotTakeTheRealOnesPlace() async throws {
        let order = try EventSigner(keyId: "order-1", owner: "order")
        let inventory = try EventSigner(keyId: "inventory-1", owner: "inventory")
        let authenticator = EventAuthenticator(keyring: try Keyring(entries: [order.keyringEntry, inventory.keyringEntry]))
        try await forEachBackend { store in
            let database = try await store.open()
            try await database.migrate(AppliedTable.migrations)
            let configuration = ConsumerConfiguration(
                groupID: "g", topics: [Self.topic], kafka: KafkaConfiguration(bootstrapServers: "unused:9092"),
                retry: RetryPolicy(initialDelay: .milliseconds(5), maximumDelay: .milliseconds(20)), authenticator: authenticator)
            let processor = BatchProcessor(configuration: configuration, database: database, metrics: ConsumerMetrics(group: "g"),
                                           logger: Logger(label: "test.auth"), signer: inventory) { event, unit in
                try AppliedTable.record(event, on: unit.connection)
                return .applied
            }
            let realId = UUID()
            let forgedCopy = Self.consumed(Events.orderPlaced("o1"), offset: 0, eventId: realId, signer: nil)
            let wrongWriter = Self.consumed(Events.orderPlaced("o2"), offset: 1, signer: inventory)
            let real = Self.consumed(Events.orderPlaced("o1"), offset: 2, eventId: realId, signer: order)
            let outcome = try await BatchProcessorTests.process(processor, [forgedCopy, wrongWriter, real])
            XCTAssertEqual(outcome.handled, 1, "[\(store.backend)] only the writer's record is handled")
            XCTAssertEqual(outcome.skippedInbox, 0, "[\(store.backend)] the forged copy did not claim the real event's id")
            XCTAssertEqual(outcome.deadLetters.map(\.kind), [.unauthenticated, .unauthenticated], "[\(store.backend)]")
            let wrongWriterError = outcome.deadLetters.last?.error ?? "no dead letter"
            XCTAssertTrue(wrongWriterError.contains("written by order"), wrongWriterError)
            let applied = try await AppliedTable.counts(database)
            XCTAssertEqual(applied, [realId.uuidString: 1], "[\(store.backend)] the real OrderPlaced, once")
            // The dead letters this consumer wrote are signed with its own key.
            let rows = try await database.read { try $0.query("SELECT headers FROM outbox WHERE topic = ?", [.text(TopicCatalog.deadLetters.name)]) }
            XCTAssertEqual(rows.count, 2)
            for row in rows {
                let headers = try HeaderCodec.decode(row.bytes("headers") ?? [])
                XCTAssertTrue(headers.contains { $0.key == EventSignature.header && String(decoding: $0.value ?? [], as: UTF8.self).hasPrefix("inventory-1:") })
            }
            await database.close()
        }
    }

    /// `event` as `signer` wrote it (nil: unsigned), read back from the topic at `offset`.
    static func consumed(_ event: SagaEvent, offset: Int64, eventId: UUID = UUID(), signer: EventSigner?) -> ConsumedMessage {
        let envelope = EventEnvelope(for: event, sequence: 1, eventId: eventId)
        var headers = envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) }
        if let signer, let signature = try? signer.signatureHeader(topic: event.topic.name, key: envelope.key,
                                                                    payload: event.encodePayload(), envelope: envelope) {
            headers.append(KafkaHeader(key: signature.name, value: signature.value))
        }
        return ConsumedMessage(topic: event.topic.name, partition: 0, offset: offset, key: envelope.key, value: event.encodePayload(),
                               headers: headers, timestampMs: nil)
    }
}
