import EventSchema
import Foundation
import Kafka
import Logging
@testable import Messaging
import NotificationCore
@testable import NotificationService
import Persistence
import StoreFixtures
import XCTest

/// A channel that delivers in the consumer's transaction and fails: the event's handling fails
/// as transient (the batch is retried, the event never dead-lettered), and the rolled-back
/// transaction leaves no SENT row, no NotificationSent and no frame on the live stream.
final class NotificationInPlaceDeliveryTests: XCTestCase {
    struct FullDisk: Error, CustomStringConvertible { var description: String { "no space left on device" } }

    final class FailingChannel: InTransactionChannel, @unchecked Sendable {
        let kind = ChannelKind.file
        let concurrency = 1
        let maximumDeliveryTime = Duration.milliseconds(100)
        var attempts = 0
        func deliver(_ record: NotificationRecord) async throws { try deliverNow(record) }
        func deliverNow(_ record: NotificationRecord) throws {
            attempts += 1
            throw FullDisk()
        }
    }

    func testAFailedInPlaceDeliveryFailsTheEventAsTransientAndWritesNothing() async throws {
        try await forEachBackend(migrations: MessagingSchema.migrations + NotificationSchema.migrations) { store in
            let database = try await store.open()
            let broadcaster = NotificationBroadcaster()
            let subscription = try XCTUnwrap(broadcaster.streams.subscribe())
            let channel = FailingChannel()
            let delivered = DeliveredNotifications(channel: channel.kind, broadcaster: broadcaster)
            var confirmed = Saga_V1_OrderConfirmed()
            confirmed.orderID = "full-disk-1"
            confirmed.customerID = "C-1"
            confirmed.total = Saga_V1_Money(minorUnits: 1_000, currency: "EUR")
            let event = SagaEvent.orderConfirmed(confirmed)
            let envelope = EventEnvelope(for: event, sequence: 1)
            let message = ConsumedMessage(topic: TopicCatalog.orders.name, partition: 0, offset: 1, key: envelope.key,
                                          value: event.encodePayload(),
                                          headers: envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) }, timestampMs: nil)
            let inbound = InboundEvent(decoded: try DecodedEvent(envelope: envelope, event: event), message: message,
                                       consumerGroup: "notification", logger: Logger(label: "test"))
            do {
                _ = try await database.unitOfWork { unit in
                    try NotificationEventHandler.handle(inbound, unit, channel: channel, delivered: delivered)
                }
                XCTFail("[\(store.backend)] a failed delivery was written as done")
            } catch {
                XCTAssertEqual(ErrorDisposition.classify(error), .transient, "[\(store.backend)] \(error)")
                XCTAssertTrue("\(error)".contains("no space left on device"), "the channel's own error is kept: \(error)")
            }
            XCTAssertEqual(channel.attempts, 1)
            let rows = try await database.read { try NotificationStore.forOrder("full-disk-1", on: $0) }
            XCTAssertEqual(rows.count, 0, "[\(store.backend)] the rolled-back transaction left a row")
            let outbox = try await database.read { try $0.query("SELECT COUNT(*) AS n FROM outbox", []).first?.int("n") }
            XCTAssertEqual(outbox, 0, "[\(store.backend)] a NotificationSent went out for a delivery that failed")
            broadcaster.streams.unsubscribe(subscription.id)
            var frames = subscription.stream.makeAsyncIterator()
            let frame = await frames.next()
            XCTAssertNil(frame, "[\(store.backend)] the live stream heard of a delivery that failed")
        }
    }
}
