import EventSchema
import OrderCore
import PaymentCore
import PropertyBased
import Testing

/// The four state machines together, under any interleaving the scheduler picks:
/// see ``SagaSimulation`` for what is modelled and ``SagaSimulation/invariantViolations()``
/// for what is checked. A failure prints the world, which carries the scheduler's seed.
@Suite struct SagaPropertyTests {
    @Test func everyInterleavingDrainsToAConsistentEnd() async {
        await propertyCheck(count: 400, input: World.generator) { world in
            let violations = SagaSimulation.run(world).invariantViolations()
            #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
        }
    }

    @Test func contendedStockAndShortDeadlinesToo() async {
        await propertyCheck(count: 200, input: World.crowded) { world in
            let violations = SagaSimulation.run(world).invariantViolations()
            #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
        }
    }

    /// Guards against a vacuous generator: over a fixed batch of worlds, every way
    /// an order can end, and the tricky orderings, actually happen.
    @Test func theSimulationReachesEveryOutcome() {
        var rng = Xoshiro(seed: (1, 2, 3, 4))
        var seen: [String: Int] = [:]
        for index in 0..<300 {
            let sim = SagaSimulation.run(index.isMultiple(of: 2) ? World.generator.run(using: &rng) : World.crowded.run(using: &rng))
            for order in sim.orders.values {
                let outcome = order.cancelReason.map { "cancelled/\($0)" } ?? order.status.rawValue.lowercased()
                seen[outcome, default: 0] += 1
                if let reason = order.paymentFailureReason { seen["payment failure/\(reason)", default: 0] += 1 }
            }
            for payment in sim.payments.values {
                seen["payment \(payment.state)", default: 0] += 1
                if payment.failureReason == .orderCancelled { seen["charge refused after cancellation", default: 0] += 1 }
            }
        }
        let expected = [
            "confirmed", "cancelled/out_of_stock", "cancelled/payment_failed", "cancelled/timeout",
            "payment failure/insufficientFunds", "payment failure/customerBlocked", "payment failure/unknownCustomer",
            "payment REFUNDED", "payment CANCELLED", "charge refused after cancellation",
        ]
        for outcome in expected {
            #expect(seen[outcome, default: 0] > 0, "never reached: \(outcome); seen \(seen)")
        }
    }
}
