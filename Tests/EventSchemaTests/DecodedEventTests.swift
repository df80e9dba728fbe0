import EventSchema
import Foundation
import SeededRandom
import XCTest

/// The consumer entry point, and that no input makes it crash.
final class DecodedEventTests: XCTestCase {
    func testEveryEventRoundTrips() throws {
        for event in GoldenFixtures.v1 {
            let envelope = EventEnvelope(for: event, sequence: 9, producedAtUnixMs: 1_767_225_600_000)
            let decoded = try DecodedEvent(
                headers: envelope.headers(), payload: event.encodePayload(), topic: event.topic.name)
            XCTAssertEqual(decoded.envelope, envelope)
            XCTAssertEqual(decoded.event, event)
        }
    }

    func testValidation() throws {
        let event = GoldenFixtures.v1[0]
        let envelope = EventEnvelope(for: event, sequence: 1)
        let payload = event.encodePayload()

        XCTAssertEqual(error(envelope.headers(), payload, topic: "payments.v1"),
                       .eventTypeNotAllowedOnTopic(eventType: .orderPlaced, topic: "payments.v1"))
        XCTAssertEqual(error(envelope.headers(), nil), .missingPayload(eventType: .orderPlaced))

        var other = envelope
        other.orderId = "ord-other"
        XCTAssertEqual(error(other.headers(), payload),
                       .orderIdMismatch(eventType: .orderPlaced, header: "ord-other", payload: GoldenFixtures.orderId))

        var future = envelope
        future.schemaVersion = 2
        XCTAssertEqual(error(future.headers(), payload),
                       .unsupportedSchemaVersion(eventType: .orderPlaced, version: 2, supported: 1...1))

        // Headers say one type, payload is another type's bytes: caught by the order-id
        // check at the latest (field 1 is order_id everywhere).
        var wrongType = envelope
        wrongType.eventType = .deadLetter
        XCTAssertThrowsError(try DecodedEvent(headers: wrongType.headers(), payload: payload))

        XCTAssertThrowsError(try DecodedEvent(envelope: envelope, event: GoldenFixtures.v1[1])) { error in
            guard case .malformedHeader(name: "event-type", _, _)? = error as? EventDecodingError else {
                return XCTFail("\(error)")
            }
        }
    }

    func testGarbagePayloads() {
        let envelope = EventEnvelope(for: GoldenFixtures.v1[0], sequence: 1)
        let garbage: [[UInt8]] = [
            [0xFF, 0xFF, 0xFF],                          // endless varint tag
            [0x0A, 0x10, 0x61],                          // string longer than the data
            [0x0A, 0x02, 0xC3, 0x28],                    // order_id not UTF-8
            [0x07],                                      // wire type 7
            [0x00],                                      // field number 0
            [0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],        // lines with a 4 GiB length
            [0x1A, 0x02, 0x0A, 0x05],                    // a line whose sku overruns the line
        ]
        for bytes in garbage {
            guard case .malformedPayload(.orderPlaced, let reason)? = error(envelope.headers(), bytes) else {
                XCTFail("\(bytes): expected malformedPayload, got \(String(describing: error(envelope.headers(), bytes)))")
                continue
            }
            XCTAssertFalse(reason.isEmpty)
        }
        // 100 000 nested unknown groups: an error, not a stack overflow.
        let deep = [UInt8](repeating: 0x2B, count: 100_000) + [UInt8](repeating: 0x2C, count: 100_000)
        XCTAssertNotNil(error(envelope.headers(), deep))
    }

    func testEmptyPayloadIsAnOrderIdMismatchNotACrash() {
        let envelope = EventEnvelope(for: GoldenFixtures.v1[0], sequence: 1)
        XCTAssertEqual(error(envelope.headers(), []),
                       .orderIdMismatch(eventType: .orderPlaced, header: GoldenFixtures.orderId, payload: ""))
    }

    /// Every prefix of every golden payload: either a typed error, or (cut at a field
    /// boundary) a partial message that is not the original.
    func testTruncatedPayloads() {
        var errors = 0
        for event in GoldenFixtures.v1 {
            let envelope = EventEnvelope(for: event, sequence: 1)
            let bytes = event.encodePayload()
            for length in 0..<bytes.count {
                do {
                    let decoded = try DecodedEvent(headers: envelope.headers(), payload: Array(bytes.prefix(length)))
                    XCTAssertNotEqual(decoded.event, event)
                } catch {
                    errors += 1
                    switch error {
                    case .malformedPayload, .orderIdMismatch: break
                    default: XCTFail("\(event.eventType) cut at \(length): unexpected \(error)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(errors, 0)
    }

    /// Pseudo-random payloads, mutated payloads and random header values, fixed
    /// seed: the only outcomes are a value or an EventDecodingError.
    func testRandomInputNeverCrashes() {
        var rng = SplitMix64(seed: 0x5A6A_2026)
        var outcomes: [String: Int] = [:]
        func record(_ body: () throws(EventDecodingError) -> Void) {
            do {
                try body()
                outcomes["decoded", default: 0] += 1
            } catch {
                outcomes[Mirror(reflecting: error).children.first?.label ?? "\(error)", default: 0] += 1
            }
        }
        let samples = GoldenFixtures.v1
        for _ in 0..<3_000 {
            let event = samples[Int(rng.next() % UInt64(samples.count))]
            let envelope = EventEnvelope(for: event, sequence: Int64(rng.next() % 1000))

            // Random payload bytes.
            let random = (0..<Int(rng.next() % 96)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            record { () throws(EventDecodingError) in _ = try DecodedEvent(headers: envelope.headers(), payload: random) }
            record { () throws(EventDecodingError) in _ = try SagaEvent.decode(type: event.eventType, payload: random) }

            // Golden payload with a few bytes flipped.
            var mutated = event.encodePayload()
            for _ in 0...(rng.next() % 3) where !mutated.isEmpty {
                mutated[Int(rng.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            record { () throws(EventDecodingError) in _ = try DecodedEvent(headers: envelope.headers(), payload: mutated) }

            // One header's value replaced by random bytes, maybe also a random extra header.
            var headers = envelope.headers().map { (name: $0.name, value: Optional($0.value)) }
            let index = Int(rng.next() % UInt64(headers.count))
            headers[index].value = rng.next() % 8 == 0
                ? nil : (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 4 == 0 {
                headers.append((name: EventEnvelope.Header.all.randomElement(using: &rng)!,
                                value: (0..<Int(rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            }
            record { () throws(EventDecodingError) in _ = try DecodedEvent(headers: headers, payload: event.encodePayload(), topic: event.topic.name) }
        }
        print("random input outcomes:", outcomes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        XCTAssertGreaterThan(outcomes.count, 3, "the inputs should reach several different errors")
    }

    // MARK: - Helpers

    private func error(_ headers: [(name: String, value: [UInt8])], _ payload: [UInt8]?, topic: String? = nil)
        -> EventDecodingError?
    {
        do {
            _ = try DecodedEvent(headers: headers, payload: payload, topic: topic)
            return nil
        } catch {
            return error
        }
    }
}
