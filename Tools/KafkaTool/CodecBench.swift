import ArgumentParser
import EventSchema
import Foundation

/// Encode + decode cost per event type, from the released golden payloads (one file per type,
/// named after it). A measurement to print, not a test: timings on a shared machine are noise
/// for pass/fail; the command checks only that every round trip decodes.
struct CodecBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec-bench",
        abstract: "Encode + decode cost per event, payload alone and with the envelope headers.")

    @Option(help: "Folder of golden payloads, <EventType>.bin each.") var golden = "Tests/EventSchemaTests/Golden/v1"
    @Option(help: "Round trips per event type.") var iterations = 50_000

    func validate() throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: golden).filter { $0.hasSuffix(".bin") && !$0.contains(".r") }.sorted()
        var events: [SagaEvent] = []
        for file in files {
            let name = String(file.dropLast(".bin".count))
            guard let type = EventType(rawValue: name) else { continue }
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: golden).appendingPathComponent(file)))
            events.append(try SagaEvent.decode(type: type, payload: bytes))
        }
        guard !events.isEmpty else { throw ValidationError("no <EventType>.bin in \(golden) (--golden)") }
        let clock = ContinuousClock()
        print("encode+decode cost per event (\(iterations) iterations)")
        for event in events {
            let envelope = EventEnvelope(for: event, sequence: 1)
            var decoded = 0
            let payloadOnly = clock.measure {
                for _ in 0..<iterations {
                    decoded += (try? SagaEvent.decode(type: event.eventType, payload: event.encodePayload())) == nil ? 0 : 1
                }
            }
            let full = clock.measure {
                for _ in 0..<iterations {
                    decoded += (try? DecodedEvent(headers: envelope.headers(), payload: event.encodePayload())) == nil ? 0 : 1
                }
            }
            guard decoded == 2 * iterations else { throw ValidationError("\(event.eventType): \(2 * iterations - decoded) round trips did not decode") }
            let name = event.eventType.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)
            print("  \(name) \(String(format: "%4d", event.encodePayload().count)) B payload"
                + "  encode+decode \(String(format: "%7.2f", micros(payloadOnly) / Double(iterations))) µs"
                + "  with envelope headers \(String(format: "%7.2f", micros(full) / Double(iterations))) µs")
        }
    }

    private func micros(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
    }
}
