import Foundation
import Testing
@testable import LoadGenerator

@Suite("Seed catalog and order mix")
struct SeedTests {
    @Test("the same parameters write the same bytes; another seed changes the prices only")
    func deterministic() throws {
        let parameters = SeedParameters()
        #expect(try SeedGenerator.make(parameters).encoded() == SeedGenerator.make(parameters).encoded())
        var other = parameters
        other.randomSeed = 43
        let (a, b) = (SeedGenerator.make(parameters), SeedGenerator.make(other))
        #expect(a.skus.map(\.sku) == b.skus.map(\.sku))
        #expect(a.skus.map(\.unitPrice) != b.skus.map(\.unitPrice))
        #expect(a.customers == b.customers)
    }

    @Test("follows the naming and stock/balance conventions the scenarios rely on")
    func conventions() {
        let catalog = SeedGenerator.make(SeedParameters(skus: 3, stock: 50, customers: 2, balance: 999,
                                                        scarceSKUs: 2, brokeCustomers: 1, blockedCustomers: 1, currency: "USD"))
        #expect(catalog.currency == "USD")
        #expect(catalog.skus.map(\.sku) == ["SKU-0001", "SKU-0002", "SKU-0003", "SCARCE-01", "SCARCE-02"])
        #expect(catalog.skus.map(\.stock) == [50, 50, 50, 0, 0])
        #expect(catalog.skus.allSatisfy { SeedParameters.priceRange.contains($0.unitPrice) })
        #expect(catalog.customers.map(\.customerId) == ["C-00001", "C-00002", "BROKE-001", "BLOCKED-001"])
        #expect(catalog.customers.map(\.balance) == [999, 999, 0, 999])
        #expect(catalog.customers.map(\.blocked) == [false, false, false, true])
    }

    @Test("prices spread over 100…5000 and ids widen past their padding")
    func pricesAndWidth() {
        let catalog = SeedGenerator.make(SeedParameters(skus: 10_000, customers: 1))
        let prices = catalog.skus.prefix(10_000).map(\.unitPrice)
        #expect(prices.min()! < 200 && prices.max()! > 4900)
        #expect(catalog.skus[9_998].sku == "SKU-09999" && catalog.skus[9_999].sku == "SKU-10000")
    }

    @Test("the written JSON has the Services/API.md shape")
    func jsonShape() throws {
        let data = try SeedGenerator.make(SeedParameters(skus: 1, customers: 1, scarceSKUs: 0, brokeCustomers: 0, blockedCustomers: 0)).encoded()
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["currency"] as? String == "EUR")
        let sku = try #require((json["skus"] as? [[String: Any]])?.first)
        #expect(Set(sku.keys) == ["sku", "unitPrice", "stock"])
        let customer = try #require((json["customers"] as? [[String: Any]])?.first)
        #expect(Set(customer.keys) == ["customerId", "balance", "blocked"])
    }

    @Test("each scenario draws from its pool, and the mix follows the shares")
    func orderMix() throws {
        let pools = SeedPools(SeedGenerator.make(SeedParameters()))
        let planner = OrderPlanner(pools: pools, mix: ScenarioMix(), maxLines: 3, randomSeed: 99)
        var counts: [Scenario: Int] = [:]
        let total = 20_000
        for index in 0..<total {
            let order = planner.order(index)
            counts[order.scenario, default: 0] += 1
            let skus = order.request.lines.map(\.sku)
            #expect(Set(skus).count == skus.count)
            #expect((1...3).contains(skus.count))
            let scarce = skus.filter { $0.hasPrefix("SCARCE-") }.count
            #expect(scarce == (order.scenario == .outOfStock ? 1 : 0))
            #expect((order.idempotencyKey != nil) == (order.scenario == .idempotentRetry))
            let customer = order.request.customerId
            switch order.scenario {
            case .paymentFailure: #expect(customer.hasPrefix("BROKE-"))
            case .blocked: #expect(customer.hasPrefix("BLOCKED-"))
            default: #expect(customer.hasPrefix("C-"))
            }
        }
        // Fixed seed: these counts are the same on every run; the bounds document the intent.
        func share(_ scenario: Scenario) -> Double { Double(counts[scenario] ?? 0) / Double(total) }
        #expect(abs(share(.outOfStock) - 0.05) < 0.01)
        #expect(abs(share(.paymentFailure) - 0.05) < 0.01)
        #expect(abs(share(.blocked) - 0.02) < 0.005)
        #expect(abs(share(.idempotentRetry) - 0.05) < 0.01)
        #expect(abs(share(.normal) - 0.83) < 0.015)
    }

    @Test("order i is the same whoever asks first")
    func plannerIsPerIndex() {
        let pools = SeedPools(SeedGenerator.make(SeedParameters()))
        let planner = OrderPlanner(pools: pools, mix: ScenarioMix(idempotentRetry: 0), maxLines: 3, randomSeed: 5)
        let forward = (0..<50).map { planner.order($0) }
        let backward = (0..<50).reversed().map { planner.order($0) }.reversed()
        #expect(forward == Array(backward))
    }

    @Test("a mix that needs a pool the catalog lacks is refused with the fix")
    func missingPool() {
        let pools = SeedPools(SeedGenerator.make(SeedParameters(scarceSKUs: 0)))
        #expect(throws: LoadGenError.self) { try pools.check(ScenarioMix()) }
        #expect(throws: Never.self) { try pools.check(ScenarioMix(outOfStock: 0)) }
        do {
            try pools.check(ScenarioMix())
        } catch {
            #expect("\(error)".contains("--scarce-skus"))
        }
    }
}
