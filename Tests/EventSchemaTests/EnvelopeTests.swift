import EventSchema
import Foundation
import XCTest

final class EnvelopeTests: XCTestCase {
    typealias H = EventEnvelope.Header
    let envelope = GoldenFixtures.envelope

    func testHeaderNames() {
        XCTAssertEqual(H.all, ["event-id", "event-type", "schema-version", "order-id", "sequence",
                               "causation-id", "correlation-id", "traceparent", "produced-at"])
        XCTAssertEqual(envelope.headers().map(\.name), H.all)
    }

    func testRoundTrip() throws {
        XCTAssertEqual(try EventEnvelope(headers: envelope.headers()), envelope)

        var minimal = envelope
        minimal.causationId = nil
        minimal.traceparent = nil
        let headers = minimal.headers()
        XCTAssertFalse(headers.contains { $0.name == H.causationId || $0.name == H.traceparent })
        XCTAssertEqual(try EventEnvelope(headers: headers), minimal)
    }

    func testHeaderValuesAreReadableText() {
        let values = Dictionary(uniqueKeysWithValues: envelope.headers().map {
            ($0.name, String(decoding: $0.value, as: UTF8.self))
        })
        XCTAssertEqual(values[H.eventId], "0b4f2a3c-8d1e-4f5a-9b6c-7d8e9f0a1b2c")
        XCTAssertEqual(values[H.eventType], "PaymentCharged")
        XCTAssertEqual(values[H.schemaVersion], "1")
        XCTAssertEqual(values[H.sequence], "3")
        XCTAssertEqual(values[H.producedAt], "1767225601000")
        XCTAssertEqual(envelope.key, Array("ord-7f3c9a2e".utf8))
    }

    func testUUIDTextMatchesFoundation() throws {
        for _ in 0..<200 {
            var random = envelope
            random.eventId = UUID()
            random.correlationId = UUID()
            let headers = random.headers()
            XCTAssertEqual(String(decoding: headers[0].value, as: UTF8.self), random.eventId.uuidString.lowercased())
            XCTAssertEqual(try EventEnvelope(headers: headers), random)
        }
    }

    func testEnvelopeForAnEventInheritsFromItsCause() throws {
        let cause = envelope
        let event = GoldenFixtures.v1.first { $0.eventType == .orderConfirmed }!
        let next = EventEnvelope(for: event, sequence: 2, causedBy: cause.cause, producedAtUnixMs: 42)
        XCTAssertEqual(next.eventType, .orderConfirmed)
        XCTAssertEqual(next.orderId, GoldenFixtures.orderId)
        XCTAssertEqual(next.schemaVersion, EventType.orderConfirmed.schemaVersion)
        XCTAssertEqual(next.causationId, cause.eventId)
        XCTAssertEqual(next.correlationId, cause.correlationId)
        XCTAssertEqual(next.traceparent, cause.traceparent)
        XCTAssertNotEqual(next.eventId, cause.eventId)

        let first = EventEnvelope(for: GoldenFixtures.v1[0], sequence: 1)
        XCTAssertNil(first.causationId)
        XCTAssertEqual(first.correlationId, first.eventId, "a saga's first event starts the correlation")
    }

    func testUnknownHeadersIgnoredAndUpperCaseUUIDAccepted() throws {
        var headers = envelope.headers().map { (name: $0.name, value: Optional($0.value)) }
        headers.insert((name: "x-tenant", value: nil), at: 0)
        headers.append((name: "Event-Id", value: Array("garbage".utf8)))  // names are case-sensitive
        headers = headers.map {
            $0.name == H.eventId ? (name: $0.name, value: Array(envelope.eventId.uuidString.uppercased().utf8)) : $0
        }
        XCTAssertEqual(try EventEnvelope(headers: headers), envelope)
    }

    func testDuplicates() throws {
        var headers = envelope.headers()
        headers.append((H.sequence, Array("3".utf8)))
        XCTAssertEqual(try EventEnvelope(headers: headers), envelope, "an identical repeat is harmless")
        headers.append((H.sequence, Array("4".utf8)))
        XCTAssertThrowsError(try EventEnvelope(headers: headers)) { error in
            XCTAssertEqual(error as? EventDecodingError, .duplicateHeader(name: "sequence", values: ["\"3\"", "\"4\""]))
        }
    }

    func testEachMissingRequiredHeader() {
        for name in [H.eventId, H.eventType, H.schemaVersion, H.orderId, H.sequence, H.correlationId, H.producedAt] {
            let headers = envelope.headers().filter { $0.name != name }
            XCTAssertEqual(decodeError(headers), .missingHeader(name: name), name)
        }
    }

    func testMalformedHeaderValues() {
        let cases: [(String, [UInt8]?)] = [
            (H.eventId, Array("not-a-uuid".utf8)),
            (H.eventId, Array("0b4f2a3c8d1e4f5a9b6c7d8e9f0a1b2c".utf8)),
            (H.eventId, Array("0b4f2a3c-8d1e-4f5a-9b6c-7d8e9f0a1b2g".utf8)),
            (H.eventId, Array("0b4f2a3c-8d1e-4f5a-9b6c7-d8e9f0a1b2c".utf8)),
            (H.eventId, Array("{b4f2a3c-8d1e-4f5a-9b6c-7d8e9f0a1b2c}".utf8)),
            (H.eventId, nil),
            (H.eventId, [0xC3, 0x28]),
            (H.correlationId, Array("".utf8)),
            (H.causationId, Array("yesterday".utf8)),
            (H.schemaVersion, Array("0".utf8)),
            (H.schemaVersion, Array("one".utf8)),
            (H.sequence, Array("12a".utf8)),
            (H.sequence, Array("-1".utf8)),
            (H.sequence, Array("+1".utf8)),
            (H.sequence, Array(" 1".utf8)),
            (H.sequence, Array("".utf8)),
            (H.sequence, Array("9223372036854775808".utf8)),
            (H.sequence, Array("99999999999999999999999".utf8)),
            (H.sequence, Array("١٢".utf8)),
            (H.producedAt, Array("2026-01-01T00:00:00Z".utf8)),
            (H.orderId, Array("".utf8)),
            (H.orderId, [0xFF]),
            // Order IDs reach indexed columns and become keys: bounded, visible ASCII only.
            (H.orderId, Array(String(repeating: "x", count: EventEnvelope.maxOrderIdBytes + 1).utf8)),
            (H.orderId, Array(String(repeating: "7f3c9a2e", count: 4000).utf8)),
            (H.orderId, Array("ord 1".utf8)),
            (H.orderId, Array("ord\u{0}1".utf8)),
            (H.orderId, Array("ord\n".utf8)),
            (H.orderId, Array("ordé".utf8)),
        ]
        for (name, value) in cases {
            let headers = replacing(name, with: value)
            guard case let .malformedHeader(reported, _, _)? = decodeError(headers) else {
                XCTFail("\(name)=\(String(describing: value)): expected malformedHeader, got \(String(describing: decodeError(headers)))")
                continue
            }
            XCTAssertEqual(reported, name)
        }
        XCTAssertEqual(
            try EventEnvelope(headers: replacing(H.sequence, with: Array("9223372036854775807".utf8))).sequence,
            Int64.max)
    }

    func testUnknownEventType() {
        XCTAssertEqual(decodeError(replacing(H.eventType, with: Array("OrderShipped".utf8))),
                       .unknownEventType("OrderShipped"))
        XCTAssertEqual(decodeError(replacing(H.eventType, with: Array("orderplaced".utf8))),
                       .unknownEventType("orderplaced"))
        // The type decides first, so a consumer can skip unknown types whatever else changed.
        let headers = replacing(H.eventType, with: Array("OrderShipped".utf8)).filter { $0.name != H.eventId }
        XCTAssertEqual(decodeError(headers), .unknownEventType("OrderShipped"))
    }

    func testEmptyOrderIdOnlyForDeadLetters() throws {
        var deadLetter = envelope
        deadLetter.eventType = .deadLetter
        deadLetter.orderId = ""
        XCTAssertEqual(try EventEnvelope(headers: deadLetter.headers()), deadLetter)
    }

    func testOptionalHeaders() throws {
        XCTAssertNil(try EventEnvelope(headers: replacing(H.causationId, with: nil)).causationId)
        XCTAssertNil(try EventEnvelope(headers: replacing(H.causationId, with: [])).causationId)
        for bad in ["garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"] {
            XCTAssertNil(try EventEnvelope(headers: replacing(H.traceparent, with: Array(bad.utf8))).traceparent, bad)
        }
        XCTAssertNil(try EventEnvelope(headers: replacing(H.traceparent, with: [0xFF])).traceparent)
        XCTAssertTrue(EventEnvelope.isValidTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future"))
    }

    func testErrorDescriptionsSayWhatIsWrong() {
        let error = decodeError(replacing(H.eventId, with: Array("not-a-uuid".utf8)))
        XCTAssertEqual(error?.description,
                       "malformed header 'event-id': got \"not-a-uuid\", expected a UUID like 3f2504e0-4f89-41d3-9a0c-0305e82c3301")
        XCTAssertEqual(decodeError(replacing(H.sequence, with: [0x31, 0xFF]))?.description,
                       "malformed header 'sequence': got 0x31ff (2 bytes, not UTF-8), expected a non-negative decimal integer")
        XCTAssertEqual(EventDecodingError.missingHeader(name: "order-id").description, "missing header 'order-id'")
        let long = decodeError(replacing(H.eventId, with: Array(String(repeating: "x", count: 5000).utf8)))
        XCTAssertLessThan(long?.description.count ?? .max, 250, "values are truncated in messages")
        XCTAssertTrue(EventDecodingError.unknownEventType("Foo\n").description.contains("\"Foo\\n\""))
    }

    // MARK: - Helpers

    private func replacing(_ name: String, with value: [UInt8]?) -> [(name: String, value: [UInt8]?)] {
        var headers = envelope.headers().map { (name: $0.name, value: Optional($0.value)) }
        if let index = headers.firstIndex(where: { $0.name == name }) {
            headers[index].value = value
        } else {
            headers.append((name: name, value: value))
        }
        return headers
    }

    private func decodeError(_ headers: [(name: String, value: [UInt8]?)]) -> EventDecodingError? {
        do {
            _ = try EventEnvelope(headers: headers)
            return nil
        } catch {
            return error
        }
    }

    private func decodeError(_ headers: [(name: String, value: [UInt8])]) -> EventDecodingError? {
        decodeError(headers.map { (name: $0.name, value: Optional($0.value)) })
    }
}
