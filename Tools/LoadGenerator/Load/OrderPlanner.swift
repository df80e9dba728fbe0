import Foundation
import SagaAPI
import SeededRandom

/// The body of `POST /orders`.
typealias OrderRequest = PlaceOrderRequest

/// One order ready to send: what to post, and why.
struct PlannedOrder: Sendable, Equatable {
    var scenario: Scenario
    var request: OrderRequest
    /// Set for the idempotent-retry scenario: the same key and body are posted twice.
    var idempotencyKey: String?
}

/// Draws the orders of a run: order `i` comes from a generator seeded with the run's seed and
/// `i`, so the same seed, mix and catalog give the same orders whatever order the concurrent
/// senders ask in (idempotency keys excepted: they must be new on every run).
struct OrderPlanner: Sendable {
    let pools: SeedPools
    let mix: ScenarioMix
    let maxLines: Int
    let randomSeed: UInt64
    let maxQuantity = 3

    func order(_ index: Int) -> PlannedOrder {
        var random = SplitMix64(seed: randomSeed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        func pick(_ pool: [String]) -> String { pool[random.int(in: 0...(pool.count - 1))] }
        let scenario = mix.scenario(for: random.unit())
        let customer: String = switch scenario {
        case .paymentFailure: pick(pools.brokeCustomers)
        case .blocked: pick(pools.blockedCustomers)
        case .normal, .outOfStock, .idempotentRetry: pick(pools.payingCustomers)
        }
        // Distinct SKUs per order: a repeated SKU might be merged or refused by the Order service.
        let lineCount = min(random.int(in: 1...maxLines), pools.stockedSKUs.count)
        var skus: [String] = []
        while skus.count < lineCount {
            let sku = pick(pools.stockedSKUs)
            if !skus.contains(sku) { skus.append(sku) }
        }
        if scenario == .outOfStock {
            // One scarce line among stocked ones: the whole order must be rejected atomically.
            let position = random.int(in: 0...(skus.count - 1))
            skus[position] = pick(pools.scarceSKUs)
        }
        let lines = skus.map { OrderRequest.Line(sku: $0, quantity: random.int(in: 1...maxQuantity)) }
        return PlannedOrder(
            scenario: scenario,
            request: OrderRequest(customerId: customer, currency: pools.currency, lines: lines),
            idempotencyKey: scenario == .idempotentRetry ? UUID().uuidString.lowercased() : nil)
    }
}
