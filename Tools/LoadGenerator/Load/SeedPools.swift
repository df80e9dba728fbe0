import SagaAPI

/// Splits the seed catalog into the pools the scenarios draw from. Classified by content,
/// not by name, so a hand-written catalog works too.
struct SeedPools: Sendable {
    let currency: String
    let stockedSKUs: [String]
    let scarceSKUs: [String]
    let payingCustomers: [String]
    let brokeCustomers: [String]
    let blockedCustomers: [String]

    init(_ catalog: SeedCatalog) {
        currency = catalog.currency
        stockedSKUs = catalog.skus.filter { $0.stock > 0 }.map(\.sku)
        scarceSKUs = catalog.skus.filter { $0.stock == 0 }.map(\.sku)
        payingCustomers = catalog.customers.filter { !$0.blocked && $0.balance > 0 }.map(\.customerId)
        brokeCustomers = catalog.customers.filter { !$0.blocked && $0.balance == 0 }.map(\.customerId)
        blockedCustomers = catalog.customers.filter(\.blocked).map(\.customerId)
    }

    /// Says which option or seed flag to change when the mix needs a pool the catalog lacks.
    func check(_ mix: ScenarioMix) throws {
        guard !stockedSKUs.isEmpty else { throw LoadGenError("the seed catalog has no SKU with stock > 0; regenerate it with `loadgen seed --skus N`") }
        guard !payingCustomers.isEmpty else { throw LoadGenError("the seed catalog has no unblocked customer with a balance > 0; regenerate it with `loadgen seed --customers N`") }
        if mix.outOfStock > 0, scarceSKUs.isEmpty {
            throw LoadGenError("--out-of-stock-share needs SKUs with stock 0 in the seed catalog: regenerate it with `loadgen seed --scarce-skus N`, or pass --out-of-stock-share 0")
        }
        if mix.paymentFailure > 0, brokeCustomers.isEmpty {
            throw LoadGenError("--payment-failure-share needs customers with balance 0: regenerate the seed with `loadgen seed --broke-customers N`, or pass --payment-failure-share 0")
        }
        if mix.blocked > 0, blockedCustomers.isEmpty {
            throw LoadGenError("--blocked-share needs blocked customers: regenerate the seed with `loadgen seed --blocked-customers N`, or pass --blocked-share 0")
        }
    }
}
