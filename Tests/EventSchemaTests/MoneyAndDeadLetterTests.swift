import EventSchema
import Foundation
import XCTest

final class MoneyTests: XCTestCase {
    let eur = { (minor: Int64) in Saga_V1_Money(minorUnits: minor, currency: "EUR") }

    func testArithmetic() throws {
        XCTAssertEqual(try eur(1250).adding(eur(899)), eur(2149))
        XCTAssertEqual(try eur(1250).subtracting(eur(1300)), eur(-50))
        XCTAssertEqual(try eur(1250).multiplied(by: 3), eur(3750))
        XCTAssertEqual(try Saga_V1_Money.sum([eur(1), eur(2), eur(3)], currency: "EUR"), eur(6))
        XCTAssertEqual(try Saga_V1_Money.sum([], currency: "JPY"), .zero(currency: "JPY"))
    }

    func testCurrencyAndOverflowChecks() {
        let usd = Saga_V1_Money(minorUnits: 1, currency: "USD")
        XCTAssertThrowsError(try eur(1).adding(usd)) {
            XCTAssertEqual($0 as? MoneyError, .currencyMismatch(expected: "EUR", found: "USD"))
        }
        XCTAssertThrowsError(try Saga_V1_Money.sum([eur(1), usd], currency: "EUR"))
        XCTAssertThrowsError(try Saga_V1_Money.sum([eur(1)], currency: "eur")) {
            XCTAssertEqual($0 as? MoneyError, .invalidCurrency("eur"))
        }
        XCTAssertThrowsError(try Saga_V1_Money().adding(Saga_V1_Money()), "unset money has no currency")
        XCTAssertThrowsError(try eur(.max).adding(eur(1))) { XCTAssertEqual($0 as? MoneyError, .overflow) }
        XCTAssertThrowsError(try eur(.min).subtracting(eur(1))) { XCTAssertEqual($0 as? MoneyError, .overflow) }
        XCTAssertThrowsError(try eur(.max / 2 + 1).multiplied(by: 2)) { XCTAssertEqual($0 as? MoneyError, .overflow) }
        XCTAssertTrue(Saga_V1_Money.isValidCurrencyCode("CHF"))
        for bad in ["", "EU", "EURO", "eur", "E1R", "ÉUR"] {
            XCTAssertFalse(Saga_V1_Money.isValidCurrencyCode(bad), bad)
        }
    }

    func testFormatting() {
        XCTAssertEqual(eur(3399).formatted, "33.99 EUR")
        XCTAssertEqual(eur(5).formatted, "0.05 EUR")
        XCTAssertEqual(eur(-5).formatted, "-0.05 EUR")
        XCTAssertEqual(eur(.min).formatted, "-92233720368547758.08 EUR")
        XCTAssertEqual(Saga_V1_Money(minorUnits: 500, currency: "JPY").formatted, "500 JPY")
        XCTAssertEqual(Saga_V1_Money(minorUnits: 1234, currency: "KWD").formatted, "1.234 KWD")
    }

    func testOrderTotals() throws {
        guard case let .orderPlaced(placed) = GoldenFixtures.v1[0] else { return XCTFail() }
        XCTAssertEqual(try placed.linesTotal(), placed.total)
        XCTAssertEqual(try placed.lines[0].lineTotal(), eur(2500))
        var mixed = placed
        mixed.lines[1].unitPrice.currency = "USD"
        XCTAssertThrowsError(try mixed.linesTotal())
    }
}

final class DeadLetterTests: XCTestCase {
    func testKeepsTheOriginalMessageExactly() throws {
        let headers: [(name: String, value: [UInt8]?)] = [
            (name: "event-type", value: Array("PaymentCharged".utf8)),
            (name: "x-null", value: nil),
            (name: "x-empty", value: []),
            (name: "order-id", value: Array("ord-1".utf8)),
        ]
        let letter = Saga_V1_DeadLetter(
            originTopic: "payments.v1", originPartition: 3, originOffset: 99, key: nil,
            headers: headers, payload: [0xFF], error: "garbage", errorKind: .undecodable,
            consumerGroup: "order", failedAtUnixMs: 5)
        XCTAssertFalse(letter.hasKey)
        XCTAssertEqual(letter.orderID, "ord-1")
        XCTAssertEqual(letter.originalHeaders.map(\.name), headers.map(\.name))
        XCTAssertEqual(letter.originalHeaders.map(\.value), headers.map(\.value))

        let event = SagaEvent.deadLetter(letter)
        XCTAssertEqual(event.topic, TopicCatalog.deadLetters)
        let decoded = try DecodedEvent(
            headers: EventEnvelope(for: event, sequence: 1).headers(), payload: event.encodePayload(),
            topic: "deadletter.v1")
        guard case let .deadLetter(again) = decoded.event else { return XCTFail() }
        XCTAssertEqual(again.originalHeaders.map(\.value), headers.map(\.value), "null and empty stay distinct")
        XCTAssertFalse(again.hasKey)
        XCTAssertEqual([UInt8](again.payload), [0xFF])
    }

    func testOrderIdFromKeyOrEmpty() throws {
        let fromKey = Saga_V1_DeadLetter(
            originTopic: "orders.v1", originPartition: 0, originOffset: 0, key: Array("ord-2".utf8),
            headers: [], payload: nil, error: "e", errorKind: .rejected, consumerGroup: "g")
        XCTAssertEqual(fromKey.orderID, "ord-2")
        XCTAssertFalse(fromKey.hasPayload)

        let unknown = Saga_V1_DeadLetter(
            originTopic: "orders.v1", originPartition: 0, originOffset: 0, key: [0xFF],
            headers: [], payload: nil, error: "e", errorKind: .undecodable, consumerGroup: "g")
        XCTAssertEqual(unknown.orderID, "")
        // A dead letter of an unknown order still round-trips through the envelope.
        let event = SagaEvent.deadLetter(unknown)
        let envelope = EventEnvelope(for: event, sequence: 1)
        XCTAssertEqual(try DecodedEvent(headers: envelope.headers(), payload: event.encodePayload()).event, event)
    }
}
