import Foundation
import SagaAPI
import SeededRandom

/// Builds a seed catalog with the naming conventions the load scenarios rely on:
///
/// | ids | meaning |
/// |---|---|
/// | `SKU-0001…` | plenty of stock, unit price 100…5000 minor units |
/// | `SCARCE-01…` | stock 0: an order containing one is cancelled `out_of_stock` |
/// | `C-00001…` | big balance: orders are charged |
/// | `BROKE-001…` | balance 0: payment fails (insufficient funds) |
/// | `BLOCKED-001…` | blocked, big balance: payment fails (customer blocked) |
struct SeedParameters: Sendable, Equatable {
    var skus = 200
    var stock: Int64 = 1_000_000
    var customers = 1000
    var balance: Int64 = 100_000_000
    var scarceSKUs = 10
    var brokeCustomers = 20
    var blockedCustomers = 10
    var currency = "EUR"
    var randomSeed: UInt64 = 42

    static let priceRange: ClosedRange<Int64> = 100...5000
}

enum SeedGenerator {
    static func make(_ parameters: SeedParameters) -> SeedCatalog {
        var random = SplitMix64(seed: parameters.randomSeed)
        func price() -> Int64 { random.int(in: SeedParameters.priceRange) }

        let skus = ids("SKU-", count: parameters.skus, width: 4).map {
            SeedCatalog.SKU(sku: $0, unitPrice: price(), stock: parameters.stock)
        } + ids("SCARCE-", count: parameters.scarceSKUs, width: 2).map {
            SeedCatalog.SKU(sku: $0, unitPrice: price(), stock: 0)
        }
        let customers = ids("C-", count: parameters.customers, width: 5).map {
            SeedCatalog.Customer(customerId: $0, balance: parameters.balance, blocked: false)
        } + ids("BROKE-", count: parameters.brokeCustomers, width: 3).map {
            SeedCatalog.Customer(customerId: $0, balance: 0, blocked: false)
        } + ids("BLOCKED-", count: parameters.blockedCustomers, width: 3).map {
            SeedCatalog.Customer(customerId: $0, balance: parameters.balance, blocked: true)
        }
        return SeedCatalog(currency: parameters.currency, skus: skus, customers: customers)
    }

    /// `prefix` + 1-based number zero-padded to `width` digits (wider when the count needs it).
    static func ids(_ prefix: String, count: Int, width: Int) -> [String] {
        guard count > 0 else { return [] }
        let digits = max(width, String(count).count)
        return (1...count).map { number in
            let text = String(number)
            return prefix + String(repeating: "0", count: digits - text.count) + text
        }
    }
}
