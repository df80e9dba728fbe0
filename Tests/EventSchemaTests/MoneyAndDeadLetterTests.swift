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

    /// A hostile order-id (too long, not plain ASCII) stays in the letter's bytes and never
    /// becomes its order ID, key or envelope; a valid one from the header or key does.
    func testOnlyAValidOrderIdBecomesTheLettersOrderId() {
        func letter(key: String?, header: [UInt8]?) -> Saga_V1_DeadLetter {
            Saga_V1_DeadLetter(originTopic: "orders.v1", originPartition: 0, originOffset: 1, key: key.map { Array($0.utf8) },
                               headers: header.map { [(name: "order-id", value: Optional($0))] } ?? [],
                               payload: nil, error: "e", errorKind: .undecodable, consumerGroup: "g")
        }
        let long = String(repeating: "a", count: 3000)
        XCTAssertEqual(letter(key: long, header: Array(long.utf8)).orderID, "")
        XCTAssertEqual(letter(key: "ord-1", header: Array(long.utf8)).orderID, "ord-1", "a valid key when the header is not")
        XCTAssertEqual(letter(key: nil, header: Array("ord 1".utf8)).orderID, "")
        XCTAssertEqual(letter(key: nil, header: Array("ord-2".utf8)).orderID, "ord-2")
        XCTAssertEqual(letter(key: long, header: Array(long.utf8)).originHeaders.first?.value.count, 3000, "the bytes are kept")
    }

    /// A record near Kafka's maximum size makes a dead letter above it: cut to fit, marked, with
    /// the original's digest and size.
    func testAnOversizedDeadLetterIsCutToFitAndMarked() throws {
        let payload = [UInt8]((0..<1_200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let headers: [(name: String, value: [UInt8]?)] = [("event-type", Array("OrderPlaced".utf8)), ("x-big", [UInt8](repeating: 7, count: 300_000))]
        let original = Saga_V1_DeadLetter(originTopic: "orders.v1", originPartition: 2, originOffset: 9, key: Array("ord-1".utf8),
                                          headers: headers, payload: payload, error: "too big", errorKind: .undecodable, consumerGroup: "g")
        let expectedSize: Int = 1_200_000 + 300_000 + 5 + 10 + 11 + 5
        XCTAssertEqual(original.originalSize, Int64(expectedSize))
        XCTAssertEqual(original.originalSha256.count, 32)
        for limit in [990_000, 400_000, 100_000, 2_000] {
            let fitted = original.fitted(maxBytes: limit)
            XCTAssertLessThanOrEqual(fitted.encodedSize, limit)
            XCTAssertGreaterThan(fitted.encodedSize, limit - 200, "cut no more than needed (limit \(limit))")
            XCTAssertTrue(fitted.truncated)
            XCTAssertEqual(fitted.originalSha256, original.originalSha256)
            XCTAssertEqual(fitted.originalSize, original.originalSize)
            XCTAssertEqual(fitted.error, original.error)
            XCTAssertEqual([UInt8](fitted.payload), Array(payload.prefix(fitted.payload.count)), "a prefix of the payload")
        }
        XCTAssertEqual(original.fitted(maxBytes: 2_000).originHeaders.first?.name, "event-type")
        let small = Saga_V1_DeadLetter(originTopic: "orders.v1", originPartition: 2, originOffset: 9, key: nil, headers: headers.prefix(1),
                                       payload: [1, 2, 3], error: "e", errorKind: .undecodable, consumerGroup: "g")
        XCTAssertEqual(small.fitted(maxBytes: 990_000), small, "a letter that fits is unchanged")
        XCTAssertFalse(small.truncated)
    }

    /// A replay is recorded in the inbox under an id of its own, the same for the same dead
    /// letter, different for another one and from the event's.
    func testReplayInboxIdsAreStableAndDistinct() {
        let event = UUID()
        let (first, second) = (UUID(), UUID())
        XCTAssertEqual(ReplayMarker.inboxId(eventId: event, replayOf: first), ReplayMarker.inboxId(eventId: event, replayOf: first))
        XCTAssertNotEqual(ReplayMarker.inboxId(eventId: event, replayOf: first), ReplayMarker.inboxId(eventId: event, replayOf: second))
        XCTAssertNotEqual(ReplayMarker.inboxId(eventId: event, replayOf: first), event)
        let headers: [(name: String, value: [UInt8]?)] = [("replay-of", Array(first.uuidString.lowercased().utf8))]
        XCTAssertEqual(ReplayMarker.replayOf(headers), first)
        XCTAssertNil(ReplayMarker.replayOf([("replay-of", Array("garbage".utf8))]))
    }
}
