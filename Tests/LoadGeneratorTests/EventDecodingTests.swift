import EventSchema
import Foundation
import Kafka
import Testing
@testable import LoadGenerator

@Suite("Reading saga records")
struct EventDecodingTests {
    func message(_ event: SagaEvent, sequence: Int64 = 3, offset: Int64 = 42, topic: String? = nil) -> (ConsumedMessage, EventEnvelope) {
        let envelope = EventEnvelope(for: event, sequence: sequence)
        let message = ConsumedMessage(
            topic: topic ?? event.topic.name, partition: 2, offset: offset, key: envelope.key, value: event.encodePayload(),
            headers: envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) }, timestampMs: nil)
        return (message, envelope)
    }

    @Test("OrderPlaced keeps its lines; the envelope gives id, type and sequence")
    func orderPlaced() throws {
        var placed = Saga_V1_OrderPlaced()
        placed.orderID = "O-1"
        var line = Saga_V1_OrderLine()
        line.sku = "SKU-0001"
        line.quantity = 2
        placed.lines = [line]
        let (message, envelope) = message(.orderPlaced(placed))
        let record = try TopicRecordDecoder.decode(message).get()
        #expect(record.orderId == "O-1" && record.eventType == .orderPlaced && record.sequence == 3)
        #expect(record.partition == 2 && record.offset == 42)
        #expect(record.eventId == envelope.eventId.uuidString.lowercased())
        #expect(record.lines == [AuditSnapshot.Line(sku: "SKU-0001", quantity: 2)])
        #expect(FollowedEvent(message) == nil) // not an end: the follower skips it
    }

    @Test("OrderCancelled and NotificationSent become followed events")
    func followed() throws {
        var cancelled = Saga_V1_OrderCancelled()
        cancelled.orderID = "O-2"
        cancelled.reason = .paymentFailed
        let (cancelMessage, _) = message(.orderCancelled(cancelled))
        #expect(FollowedEvent(cancelMessage)?.kind == .cancelled(reason: "payment_failed"))
        #expect(try TopicRecordDecoder.decode(cancelMessage).get().cancelReason == "payment_failed")

        var sent = Saga_V1_NotificationSent()
        sent.orderID = "O-2"
        sent.kind = .orderCancelled
        let (sentMessage, _) = message(.notificationSent(sent))
        let event = try #require(FollowedEvent(sentMessage))
        #expect(event.orderId == "O-2" && event.kind == .notified(.orderCancelled))
    }

    @Test("a record without a valid envelope is reported with where it is")
    func undecodable() {
        let broken = ConsumedMessage(topic: "orders.v1", partition: 1, offset: 7, key: nil, value: [1, 2, 3],
                                     headers: [KafkaHeader(key: "event-type", text: "OrderConfirmed")], timestampMs: nil)
        guard case .failure(let failure) = TopicRecordDecoder.decode(broken) else {
            Issue.record("decoded a record without an envelope")
            return
        }
        #expect(failure.description.hasPrefix("orders.v1[1]@7:"))
        #expect(FollowedEvent(broken) == nil)
    }

    @Test("an event on the wrong topic is not accepted")
    func wrongTopic() {
        var confirmed = Saga_V1_OrderConfirmed()
        confirmed.orderID = "O-3"
        let (misplaced, _) = message(.orderConfirmed(confirmed), topic: "payments.v1")
        #expect((try? TopicRecordDecoder.decode(misplaced).get()) == nil)
    }

    @Test("a record whose key or partition is not its order's is not accepted (the consumers dead-letter it)")
    func misrouted() throws {
        var confirmed = Saga_V1_OrderConfirmed()
        confirmed.orderID = "O-4"
        let (good, envelope) = message(.orderConfirmed(confirmed))
        let wrongKey = ConsumedMessage(topic: good.topic, partition: good.partition, offset: 1, key: Array("O-5".utf8),
                                       value: good.value, headers: good.headers, timestampMs: nil)
        #expect((try? TopicRecordDecoder.decode(wrongKey).get()) == nil)
        let home = Murmur2Partitioner.partition(forKey: envelope.key, partitionCount: 12)
        let elsewhere = ConsumedMessage(topic: good.topic, partition: (home + 1) % 12, offset: 1, key: good.key,
                                        value: good.value, headers: good.headers, timestampMs: nil)
        #expect((try? TopicRecordDecoder.decode(elsewhere, partitionCount: 12).get()) == nil)
        let atHome = ConsumedMessage(topic: good.topic, partition: home, offset: 1, key: good.key,
                                     value: good.value, headers: good.headers, timestampMs: nil)
        #expect(try TopicRecordDecoder.decode(atHome, partitionCount: 12).get().orderId == "O-4")
    }
}
