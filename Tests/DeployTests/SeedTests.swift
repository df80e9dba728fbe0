import Foundation
import SagaAPI
import ServiceKit
import XCTest

/// deploy/seed.json is what the compose services start from: it must load as the services load
/// it, and hold the entries the load generator's scenarios name.
final class SeedTests: XCTestCase {
    func testSeedLoadsAndHasTheScenarioEntries() throws {
        let seed = try SeedCatalog.load(path: Deploy.seedFile.path)
        XCTAssertEqual(seed.currency, "EUR")

        let skus = Dictionary(uniqueKeysWithValues: seed.skus.map { ($0.sku, $0) })
        let customers = Dictionary(uniqueKeysWithValues: seed.customers.map { ($0.customerId, $0) })

        // Happy path: numbered SKUs in stock, numbered customers who can pay.
        XCTAssertEqual(skus["SKU-0001"]?.stock.signum(), 1, "SKU-0001 in stock")
        XCTAssertTrue(seed.skus.contains { $0.sku.range(of: #"^SKU-\d{4}$"#, options: .regularExpression) != nil && $0.stock > 0 })
        XCTAssertTrue(customers["C-00001"].map { $0.balance > 0 && !$0.blocked } ?? false, "C-00001 can pay")
        XCTAssertTrue(seed.customers.allSatisfy { !$0.customerId.hasPrefix("C-") || $0.customerId.range(of: #"^C-\d{5}$"#, options: .regularExpression) != nil },
                      "customers are numbered C-00001...")

        // Each cancellation reason has an entry that triggers it.
        XCTAssertEqual(skus["SCARCE-01"]?.stock, 0, "SCARCE-01 with stock 0 (out_of_stock)")
        XCTAssertEqual(customers["BROKE-001"]?.balance, 0, "BROKE-001 with balance 0 (payment_failed)")
        XCTAssertEqual(customers["BROKE-001"]?.blocked, false)
        XCTAssertEqual(customers["BLOCKED-001"]?.blocked, true, "BLOCKED-001 blocked (payment_failed)")
        XCTAssertGreaterThan(customers["BLOCKED-001"]?.balance ?? 0, 0, "BLOCKED-001 fails for being blocked, not broke")
    }
}
