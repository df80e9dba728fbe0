import EventSchema
import Foundation
import XCTest

/// What a newer producer may send to today's consumers (EVOLUTION.md).
final class EvolutionTests: XCTestCase {
    /// A field added later (here 99 varint, 100 string, and 15 inside `total`)
    /// decodes, survives re-encoding and survives editing a known field.
    func testUnknownFieldsSurvive() throws {
        var money = Saga_V1_Money(minorUnits: 3399, currency: "EUR")
        var moneyBytes: [UInt8] = try money.serializedBytes()
        moneyBytes += [0x78, 0x01]  // field 15, varint 1
        money = try Saga_V1_Money(serializedBytes: moneyBytes)
        XCTAssertFalse(money.unknownFields.data.isEmpty)

        var bytes: [UInt8] = [0x0A, 0x03] + Array("o-1".utf8)  // order_id = "o-1"
        bytes += [0x22, UInt8(moneyBytes.count)] + moneyBytes   // total with unknown field 15
        bytes += [0x98, 0x06, 0x2A]                              // field 99, varint 42
        bytes += [0xA2, 0x06, 0x02, 0x68, 0x69]                  // field 100, "hi"

        let event = try SagaEvent.decode(type: .orderPlaced, payload: bytes)
        guard case var .orderPlaced(placed) = event else { return XCTFail("wrong case") }
        XCTAssertEqual(placed.orderID, "o-1")
        XCTAssertEqual(placed.total.minorUnits, 3399)
        XCTAssertEqual(placed.unknownFields.data, Data([0x98, 0x06, 0x2A, 0xA2, 0x06, 0x02, 0x68, 0x69]))
        XCTAssertEqual(placed.total.unknownFields.data, Data([0x78, 0x01]))
        XCTAssertEqual(event.encodePayload(), bytes, "re-encoding keeps unknown fields byte for byte")

        // A service that changes a known field and writes the message on keeps them too.
        placed.customerID = "c-9"
        let edited = SagaEvent.orderPlaced(placed).encodePayload()
        guard case let .orderPlaced(again) = try SagaEvent.decode(type: .orderPlaced, payload: edited) else {
            return XCTFail("wrong case")
        }
        XCTAssertEqual(again.customerID, "c-9")
        XCTAssertEqual(again.unknownFields, placed.unknownFields)
        XCTAssertEqual(again.total.unknownFields.data, Data([0x78, 0x01]))
    }

    /// The same through the consumer entry point, with a golden sample plus extras.
    func testUnknownFieldsSurviveDecodedEvent() throws {
        for original in GoldenFixtures.v1 {
            let extended = original.encodePayload() + [0xF8, 0x3E, 0x07]  // field 999, varint 7
            let envelope = EventEnvelope(for: original, sequence: 1)
            let decoded = try DecodedEvent(headers: envelope.headers(), payload: extended, topic: original.topic.name)
            XCTAssertEqual(decoded.event.encodePayload(), extended, "\(original.eventType)")
        }
    }

    /// proto3 enums are open: a value added later decodes as UNRECOGNIZED and is kept.
    func testUnknownEnumValuesDecode() throws {
        let cancelled: [UInt8] = [0x0A, 0x01, 0x6F, 0x18, 0x63]  // order_id "o", reason 99
        guard case let .orderCancelled(message) = try SagaEvent.decode(type: .orderCancelled, payload: cancelled) else {
            return XCTFail("wrong case")
        }
        XCTAssertEqual(message.reason, .UNRECOGNIZED(99))
        XCTAssertEqual(SagaEvent.orderCancelled(message).encodePayload(), cancelled)

        let failed: [UInt8] = [0x0A, 0x01, 0x6F, 0x20, 0x07]  // PaymentFailed.reason = 7 (shared enum)
        guard case let .paymentFailed(payment) = try SagaEvent.decode(type: .paymentFailed, payload: failed) else {
            return XCTFail("wrong case")
        }
        XCTAssertEqual(payment.reason, .UNRECOGNIZED(7))

        let notification: [UInt8] = [0x0A, 0x01, 0x6F, 0x18, 0x03, 0x20, 0x80, 0x01]  // kind 3, channel 128
        guard case let .notificationSent(sent) = try SagaEvent.decode(type: .notificationSent, payload: notification) else {
            return XCTFail("wrong case")
        }
        XCTAssertEqual(sent.kind, .UNRECOGNIZED(3))
        XCTAssertEqual(sent.channel, .UNRECOGNIZED(128))
    }

    /// Every enum starts with UNSPECIFIED = 0, so "not set" is never a real value.
    func testEnumsDefaultToUnspecified() {
        XCTAssertEqual(Saga_V1_OrderCancelled().reason, .unspecified)
        XCTAssertEqual(Saga_V1_StockRejected().reason, .unspecified)
        XCTAssertEqual(Saga_V1_StockReleased().reason, .unspecified)
        XCTAssertEqual(Saga_V1_PaymentFailed().reason, .unspecified)
        XCTAssertEqual(Saga_V1_PaymentRefunded().reason, .unspecified)
        XCTAssertEqual(Saga_V1_NotificationSent().kind, .unspecified)
        XCTAssertEqual(Saga_V1_NotificationSent().channel, .unspecified)
        XCTAssertEqual(Saga_V1_DeadLetter().errorKind, .unspecified)
        XCTAssertEqual(Saga_V1_PaymentFailureReason.unspecified.rawValue, 0)
    }

    func testEventTypesAndTopics() {
        for type in EventType.allCases {
            XCTAssertEqual(EventType(rawValue: type.rawValue), type)
            XCTAssertNotNil(TopicCatalog.spec(named: type.topic.name), "\(type) on a topic outside the catalog")
            XCTAssertTrue(type.supportedSchemaVersions.contains(type.schemaVersion))
            XCTAssertTrue(type.topic.purpose.contains(type.rawValue) || type == .deadLetter,
                          "TopicCatalog's description of \(type.topic.name) does not mention \(type)")
        }
        XCTAssertEqual(EventType.types(onTopic: "orders.v1"), [.orderPlaced, .orderConfirmed, .orderCancelled])
        XCTAssertEqual(TopicCatalog.payments.eventTypes, [.paymentCharged, .paymentFailed, .paymentRefunded])
        XCTAssertEqual(EventType.types(onTopic: "nope"), [])
        for topic in TopicCatalog.all {
            XCTAssertFalse(topic.eventTypes.isEmpty, "\(topic.name) has no event types")
        }
    }
}
