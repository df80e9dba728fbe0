import EventSchema
import Foundation
import Kafka

/// Events and raw messages for tests.
enum Events {
    static func orderPlaced(_ orderId: String, customer: String = "customer-1", amount: Int64 = 1250) -> SagaEvent {
        var event = Saga_V1_OrderPlaced()
        event.orderID = orderId
        event.customerID = customer
        var line = Saga_V1_OrderLine()
        line.sku = "SKU-1"
        line.quantity = 1
        var price = Saga_V1_Money()
        price.minorUnits = amount
        price.currency = "EUR"
        line.unitPrice = price
        event.lines = [line]
        event.total = price
        event.placedAtUnixMs = EventEnvelope.nowUnixMs()
        event.deadlineUnixMs = EventEnvelope.nowUnixMs() + 60_000
        return .orderPlaced(event)
    }

    static func stockReserved(_ orderId: String) -> SagaEvent {
        var event = Saga_V1_StockReserved()
        event.orderID = orderId
        event.customerID = "customer-1"
        event.reservedAtUnixMs = EventEnvelope.nowUnixMs()
        return .stockReserved(event)
    }

    /// A Kafka record of `event` with a fresh envelope.
    static func outgoing(_ event: SagaEvent, sequence: Int64 = 1, eventId: UUID = UUID()) -> OutgoingMessage {
        let envelope = EventEnvelope(for: event, sequence: sequence, eventId: eventId)
        return OutgoingMessage(topic: event.topic.name, key: envelope.key, value: event.encodePayload(),
                               headers: envelope.headers().map { KafkaHeader(key: $0.name, value: $0.value) })
    }

    /// The same record as a consumer would see it at `offset`.
    static func consumed(_ event: SagaEvent, partition: Int32 = 0, offset: Int64, sequence: Int64 = 1,
                         eventId: UUID = UUID()) -> ConsumedMessage {
        let message = outgoing(event, sequence: sequence, eventId: eventId)
        return ConsumedMessage(topic: message.topic, partition: partition, offset: offset, key: message.key,
                               value: message.value, headers: message.headers, timestampMs: EventEnvelope.nowUnixMs())
    }

    static func garbage(topic: String = TopicCatalog.orders.name, partition: Int32 = 0, offset: Int64) -> ConsumedMessage {
        ConsumedMessage(topic: topic, partition: partition, offset: offset, key: Array("order-x".utf8),
                        value: [0xFF, 0x01, 0x02], headers: [], timestampMs: nil)
    }
}
