import EventSchema
import Foundation
import XCTest

/// Prints encode + decode cost per event, for information only (no assertion:
/// timings on a shared 2-core machine are noise for pass/fail).
final class CostReport: XCTestCase {
    func testPrintEncodeDecodeCost() throws {
        #if DEBUG
        let iterations = 2_000
        let build = "debug build, unoptimized"
        #else
        let iterations = 50_000
        let build = "release build"
        #endif
        let clock = ContinuousClock()
        var lines: [String] = []
        for event in GoldenFixtures.v1 {
            let envelope = EventEnvelope(for: event, sequence: 1)
            let payload = event.encodePayload()
            var sink = 0
            let payloadOnly = clock.measure {
                for _ in 0..<iterations {
                    let bytes = event.encodePayload()
                    sink &+= (try? SagaEvent.decode(type: event.eventType, payload: bytes)) == nil ? 0 : 1
                }
            }
            let full = clock.measure {
                for _ in 0..<iterations {
                    let h = envelope.headers()
                    let bytes = event.encodePayload()
                    sink &+= (try? DecodedEvent(headers: h, payload: bytes)) == nil ? 0 : 1
                }
            }
            XCTAssertEqual(sink, 2 * iterations)
            let name = event.eventType.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)
            lines.append("  \(name) \(String(format: "%4d", payload.count)) B payload"
                + "  encode+decode \(String(format: "%7.2f", micros(payloadOnly) / Double(iterations))) µs"
                + "  with envelope headers \(String(format: "%7.2f", micros(full) / Double(iterations))) µs")
        }
        print("encode+decode cost per event (\(build), \(iterations) iterations):\n" + lines.joined(separator: "\n"))
    }

    private func micros(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
    }
}
