import ArgumentParser
import Credentials
import EventSchema
import Foundation

/// `saga-admin keys cost`: the CPU one event signature and one check cost on this machine,
/// through the same code the services run (the canonical message, the header, the keyring),
/// for an event signed alone and for events that share one signature over their tree.
struct SignatureCost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "Measure the CPU time of signing and of checking one event (the services' code paths) on this machine.")
    @Option(help: "Events to sign and check.") var count = 20_000
    @Option(help: "Events per transaction in the second measurement (one signature over their tree).") var tree = 8

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
        let payload = event.encodePayload()
        let topic = TopicCatalog.payments.name
        // Distinct events (each its own id), so that no check is answered by a remembered tree.
        let cause = EventEnvelope(for: event, sequence: 1)
        let envelopes = (0..<count).map { _ in EventEnvelope(for: event, sequence: 2, causedBy: cause.cause) }
        let events = envelopes.map { EventSigner.Event(topic: topic, key: $0.key, payload: payload, envelope: $0) }
        let headers = envelopes.map { $0.headers().map { (name: $0.name, value: Optional($0.value)) } }

        // One event per transaction: one signature each, and every check verifies one.
        var signed: [[(name: String, value: [UInt8])]] = []
        signed.reserveCapacity(count)
        let signing = try cpu { for event in events { signed.append(try signer.signatureHeaders([event])) } }
        let checking = try cpu {
            for (index, header) in signed.enumerated() { try accept(authenticator, events[index], headers[index] + header) }
        }
        // `tree` events per transaction: one signature per tree, one verification per tree and reader.
        let trees = max(1, count / tree)
        let treeReader = EventAuthenticator(keyring: try Keyring(entries: [signer.keyringEntry]))
        var signedTrees: [[(name: String, value: [UInt8])]] = []
        let treeSigning = try cpu {
            for first in stride(from: 0, to: trees * tree, by: tree) {
                signedTrees.append(try signer.signatureHeaders(Array(events[first..<first + tree])))
            }
        }
        let treeChecking = try cpu {
            for (treeIndex, headersOfTree) in signedTrees.enumerated() {
                for (offset, header) in headersOfTree.enumerated() {
                    let index = treeIndex * tree + offset
                    try accept(treeReader, events[index], headers[index] + [header])
                }
            }
        }
        let treeEvents = Double(trees * tree)
        print(String(format: "one event per transaction: sign %.1f µs, check %.1f µs of CPU per event (%d events, %d-byte payload)",
                     signing / Double(count) * 1e6, checking / Double(count) * 1e6, count, payload.count))
        print(String(format: "%d events per transaction: sign %.1f µs, check %.1f µs of CPU per event (%d trees, %d verifications)",
                     tree, treeSigning / treeEvents * 1e6, treeChecking / treeEvents * 1e6, trees, treeReader.signatureVerifications))
    }

    private func accept(_ authenticator: EventAuthenticator, _ event: EventSigner.Event, _ headers: [(name: String, value: [UInt8]?)]) throws {
        guard case .authentic = authenticator.check(topic: event.topic, key: event.key, payload: event.payload, envelope: event.envelope,
                                                    headers: headers) else {
            throw ValidationError("the benchmark's own signature did not verify")
        }
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
