import SwiftProtobuf

/// One event of the saga, carrying its generated protobuf message.
public enum SagaEvent: Sendable, Hashable {
    case orderPlaced(Saga_V1_OrderPlaced)
    case orderConfirmed(Saga_V1_OrderConfirmed)
    case orderCancelled(Saga_V1_OrderCancelled)
    case stockReserved(Saga_V1_StockReserved)
    case stockRejected(Saga_V1_StockRejected)
    case stockReleased(Saga_V1_StockReleased)
    case paymentCharged(Saga_V1_PaymentCharged)
    case paymentFailed(Saga_V1_PaymentFailed)
    case paymentRefunded(Saga_V1_PaymentRefunded)
    case notificationSent(Saga_V1_NotificationSent)
    case deadLetter(Saga_V1_DeadLetter)

    public var eventType: EventType {
        switch self {
        case .orderPlaced: .orderPlaced
        case .orderConfirmed: .orderConfirmed
        case .orderCancelled: .orderCancelled
        case .stockReserved: .stockReserved
        case .stockRejected: .stockRejected
        case .stockReleased: .stockReleased
        case .paymentCharged: .paymentCharged
        case .paymentFailed: .paymentFailed
        case .paymentRefunded: .paymentRefunded
        case .notificationSent: .notificationSent
        case .deadLetter: .deadLetter
        }
    }

    /// The payload's `order_id` (for a dead letter: the origin's order ID, possibly empty).
    public var orderId: String {
        switch self {
        case let .orderPlaced(m): m.orderID
        case let .orderConfirmed(m): m.orderID
        case let .orderCancelled(m): m.orderID
        case let .stockReserved(m): m.orderID
        case let .stockRejected(m): m.orderID
        case let .stockReleased(m): m.orderID
        case let .paymentCharged(m): m.orderID
        case let .paymentFailed(m): m.orderID
        case let .paymentRefunded(m): m.orderID
        case let .notificationSent(m): m.orderID
        case let .deadLetter(m): m.orderID
        }
    }

    /// The topic this event is written to.
    public var topic: TopicSpec { eventType.topic }

    /// The generated message, for code that handles all events alike (logging, tools).
    public var message: any SwiftProtobuf.Message {
        switch self {
        case let .orderPlaced(m): m
        case let .orderConfirmed(m): m
        case let .orderCancelled(m): m
        case let .stockReserved(m): m
        case let .stockRejected(m): m
        case let .stockReleased(m): m
        case let .paymentCharged(m): m
        case let .paymentFailed(m): m
        case let .paymentRefunded(m): m
        case let .notificationSent(m): m
        case let .deadLetter(m): m
        }
    }

    /// The protobuf binary payload. Fields are written in field-number order and
    /// unknown fields last, so equal values give equal bytes.
    public func encodePayload() -> [UInt8] {
        // Proto3 messages without required fields or `Any` can only fail to encode
        // beyond 2 GiB, far over any Kafka message limit.
        try! message.serializedBytes()
    }

    /// Decodes a payload as the message of `type`. Unknown fields are kept (and
    /// written back by ``encodePayload()``); unknown enum values are kept as
    /// `.UNRECOGNIZED(n)`.
    public static func decode(type: EventType, payload: [UInt8]) throws(EventDecodingError) -> SagaEvent {
        switch type {
        case .orderPlaced: .orderPlaced(try parse(type, payload))
        case .orderConfirmed: .orderConfirmed(try parse(type, payload))
        case .orderCancelled: .orderCancelled(try parse(type, payload))
        case .stockReserved: .stockReserved(try parse(type, payload))
        case .stockRejected: .stockRejected(try parse(type, payload))
        case .stockReleased: .stockReleased(try parse(type, payload))
        case .paymentCharged: .paymentCharged(try parse(type, payload))
        case .paymentFailed: .paymentFailed(try parse(type, payload))
        case .paymentRefunded: .paymentRefunded(try parse(type, payload))
        case .notificationSent: .notificationSent(try parse(type, payload))
        case .deadLetter: .deadLetter(try parse(type, payload))
        }
    }

    private static func parse<M: SwiftProtobuf.Message>(
        _ type: EventType, _ payload: [UInt8]
    ) throws(EventDecodingError) -> M {
        do {
            // Default options: depth limit 100 (no stack exhaustion on hostile
            // nesting), unknown fields kept.
            return try M(serializedBytes: payload)
        } catch let error as BinaryDecodingError {
            throw .malformedPayload(eventType: type, reason: describe(error, byteCount: payload.count))
        } catch {
            throw .malformedPayload(eventType: type, reason: "\(error) (\(payload.count) bytes)")
        }
    }

    private static func describe(_ error: BinaryDecodingError, byteCount: Int) -> String {
        let what: String = switch error {
        case .truncated: "truncated: the data ends inside a field"
        case .malformedProtobuf: "not a protobuf encoding (bad tag, wire type or length)"
        case .invalidUTF8: "a string field is not valid UTF-8"
        case .messageDepthLimit: "nested deeper than the decoding limit"
        case .trailingGarbage: "trailing garbage after the message"
        default: "\(error)"
        }
        return "\(what) (\(byteCount) bytes)"
    }
}

/// An event read from Kafka: envelope from the headers, event from the payload,
/// both checked against each other.
public struct DecodedEvent: Sendable, Hashable {
    public let envelope: EventEnvelope
    public let event: SagaEvent

    /// Decodes and validates a consumed message in one call.
    ///
    /// Checks, in order: envelope headers (``EventEnvelope/init(headers:)``), the
    /// event type belongs on `topic` (when given), the schema version is readable,
    /// the payload decodes, and the payload's order ID equals the `order-id` header.
    public init(
        headers: some Sequence<(name: String, value: [UInt8]?)>,
        payload: [UInt8]?,
        topic: String? = nil
    ) throws(EventDecodingError) {
        try self.init(envelope: EventEnvelope(headers: headers), payload: payload, topic: topic)
    }

    /// Convenience for headers without null values.
    public init(
        headers: some Sequence<(name: String, value: [UInt8])>,
        payload: [UInt8]?,
        topic: String? = nil
    ) throws(EventDecodingError) {
        try self.init(envelope: EventEnvelope(headers: headers), payload: payload, topic: topic)
    }

    private init(envelope: EventEnvelope, payload: [UInt8]?, topic: String?) throws(EventDecodingError) {
        let type = envelope.eventType
        if let topic, type.topic.name != topic {
            throw .eventTypeNotAllowedOnTopic(eventType: type, topic: topic)
        }
        guard type.supportedSchemaVersions.contains(envelope.schemaVersion) else {
            throw .unsupportedSchemaVersion(
                eventType: type, version: envelope.schemaVersion, supported: type.supportedSchemaVersions)
        }
        guard let payload else { throw .missingPayload(eventType: type) }
        let event = try SagaEvent.decode(type: type, payload: payload)
        try self.init(envelope: envelope, event: event)
    }

    /// Pairs an envelope with its event, checking that type and order ID agree.
    public init(envelope: EventEnvelope, event: SagaEvent) throws(EventDecodingError) {
        guard envelope.eventType == event.eventType else {
            throw .malformedHeader(
                name: EventEnvelope.Header.eventType, value: "\"\(envelope.eventType)\"",
                expected: "\"\(event.eventType)\", the payload's type")
        }
        guard envelope.orderId == event.orderId else {
            throw .orderIdMismatch(eventType: event.eventType, header: envelope.orderId, payload: event.orderId)
        }
        self.envelope = envelope
        self.event = event
    }
}
