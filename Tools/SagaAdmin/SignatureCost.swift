import ArgumentParser
import Credentials
import EventSchema
import Foundation

/// `saga-admin keys cost`: the CPU one event signature and one check cost on this machine,
/// through the same code the services run (the canonical message, the header, the keyring).
struct SignatureCost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "Measure the CPU time of signing and of checking one event (the services' code paths) on this machine.")
    @Option(help: "Events to sign and check.") var count = 20_000

    func run() throws {
        let signer = try EventSigner(keyId: "payment-bench", owner: "payment")
        let authenticator = EventAuthenticator(keyring: try Keyring(entries: [signer.keyringEntry]))
        let event = SagaEvent.paymentCharged(.with {
            $0.orderID = UUID().uuidString.lowercased()
            $0.customerID = "C-00001"
            $0.amount = .with { $0.minorUnits = 12_345; $0.currency = "EUR" }
            $0.paymentID = UUID().uuidString.lowercased()
            $0.chargedAtUnixMs = EventEnvelope.nowUnixMs()
        })
        let envelope = EventEnvelope(for: event, sequence: 2, causedBy: EventEnvelope(for: event, sequence: 1))
        let payload = event.encodePayload()
        let topic = TopicCatalog.payments.name
        var headers = envelope.headers().map { (name: $0.name, value: Optional($0.value)) }

        var signature: (name: String, value: [UInt8])?
        let signing = try cpu {
            for _ in 0..<count { signature = try signer.signatureHeader(topic: topic, key: envelope.key, payload: payload, envelope: envelope) }
        }
        headers.append((signature!.name, signature!.value))
        var accepted = 0
        let checking = try cpu {
            for _ in 0..<count {
                if case .authentic = authenticator.check(topic: topic, key: envelope.key, payload: payload, envelope: envelope, headers: headers) {
                    accepted += 1
                }
            }
        }
        guard accepted == count else { throw ValidationError("the benchmark's own signatures did not verify (\(accepted) of \(count))") }
        let sign = signing / Double(count) * 1e6, check = checking / Double(count) * 1e6
        print(String(format: "sign %.1f µs, check %.1f µs of CPU per event (%d events, %d-byte payload)", sign, check, count, payload.count))
    }

    /// CPU seconds (user + system) of this process spent in `body`.
    private func cpu(_ body: () throws -> Void) throws -> Double {
        func now() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        let start = now()
        try body()
        return now() - start
    }
}
