import ArgumentParser
import Foundation

struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Write a seed catalog (Services/API.md) with the SKUs and customers the load scenarios need.",
        discussion: """
            SKU-0001… have plenty of stock; SCARCE-01… have none (out_of_stock); C-00001… can pay; \
            BROKE-001… have balance 0 (payment_failed); BLOCKED-001… are blocked (payment_failed).
            """)

    @Option(help: "Where to write the catalog.") var out: String
    @Option(help: "Normal SKUs (SKU-0001…).") var skus = 200
    @Option(help: "Stock of each normal SKU.") var stock: Int64 = 1_000_000
    @Option(help: "Normal customers (C-00001…).") var customers = 1000
    @Option(help: "Balance of each normal and blocked customer, in minor units.") var balance: Int64 = 100_000_000
    @Option(help: "SKUs with stock 0 (SCARCE-01…).") var scarceSkus = 10
    @Option(help: "Customers with balance 0 (BROKE-001…).") var brokeCustomers = 20
    @Option(help: "Blocked customers (BLOCKED-001…).") var blockedCustomers = 10
    @Option(help: "ISO currency code.") var currency = "EUR"
    @Option(help: "Seed of the prices: the same seed writes the same file.") var randomSeed: UInt64 = 42

    func validate() throws {
        guard skus >= 1 else { throw ValidationError("--skus must be at least 1: every scenario orders normal SKUs") }
        guard customers >= 1 else { throw ValidationError("--customers must be at least 1") }
        guard stock >= 0, balance >= 0 else { throw ValidationError("--stock and --balance must not be negative") }
        guard scarceSkus >= 0, brokeCustomers >= 0, blockedCustomers >= 0 else {
            throw ValidationError("--scarce-skus, --broke-customers and --blocked-customers must not be negative")
        }
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw ValidationError("--currency must be an ISO code like EUR, got '\(currency)'")
        }
    }

    var parameters: SeedParameters {
        SeedParameters(skus: skus, stock: stock, customers: customers, balance: balance, scarceSKUs: scarceSkus,
                       brokeCustomers: brokeCustomers, blockedCustomers: blockedCustomers, currency: currency,
                       randomSeed: randomSeed)
    }

    func run() async throws {
        let catalog = SeedGenerator.make(parameters)
        do {
            try catalog.encoded().write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            throw LoadGenError("cannot write the seed catalog to \(out) (--out): \(error.localizedDescription)")
        }
        Console.error("loadgen: wrote \(catalog.skus.count) SKUs and \(catalog.customers.count) customers to \(out)")
    }
}
