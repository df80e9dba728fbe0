import Foundation

/// The seed catalog every service of one stack starts from (`SEED_FILE`, Services/API.md):
/// Order reads the prices, Inventory the stock, Payment the accounts.
public struct SeedCatalog: Codable, Sendable, Equatable {
    public struct SKU: Codable, Sendable, Equatable {
        public var sku: String
        public var unitPrice: Int64
        public var stock: Int64

        public init(sku: String, unitPrice: Int64, stock: Int64) {
            self.sku = sku
            self.unitPrice = unitPrice
            self.stock = stock
        }
    }

    public struct Customer: Codable, Sendable, Equatable {
        public var customerId: String
        public var balance: Int64
        public var blocked: Bool

        public init(customerId: String, balance: Int64, blocked: Bool = false) {
            self.customerId = customerId
            self.balance = balance
            self.blocked = blocked
        }

        enum CodingKeys: String, CodingKey { case customerId, balance, blocked }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            customerId = try c.decode(String.self, forKey: .customerId)
            balance = try c.decode(Int64.self, forKey: .balance)
            blocked = try c.decodeIfPresent(Bool.self, forKey: .blocked) ?? false
        }
    }

    public var currency: String
    public var skus: [SKU]
    public var customers: [Customer]

    public init(currency: String, skus: [SKU], customers: [Customer]) {
        self.currency = currency
        self.skus = skus
        self.customers = customers
    }

    /// Reads and checks a seed file; errors say which entry is wrong.
    public static func load(path: String) throws -> SeedCatalog {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SeedError("cannot read the seed file \(path): \(error.localizedDescription)")
        }
        let catalog: SeedCatalog
        do {
            catalog = try JSONDecoder().decode(SeedCatalog.self, from: data)
        } catch {
            throw SeedError("the seed file \(path) is not a seed catalog (see Services/API.md): \(error)")
        }
        try catalog.validate(path: path)
        return catalog
    }

    func validate(path: String) throws {
        guard currency.count == 3, currency.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw SeedError("\(path): currency must be an ISO code like EUR, got '\(currency)'")
        }
        var seen = Set<String>()
        for sku in skus {
            guard !sku.sku.isEmpty, seen.insert(sku.sku).inserted else { throw SeedError("\(path): SKU '\(sku.sku)' is empty or repeated") }
            guard sku.unitPrice > 0, sku.stock >= 0 else { throw SeedError("\(path): SKU \(sku.sku) needs unitPrice > 0 and stock ≥ 0") }
        }
        seen = []
        for customer in customers {
            guard !customer.customerId.isEmpty, seen.insert(customer.customerId).inserted else {
                throw SeedError("\(path): customer '\(customer.customerId)' is empty or repeated")
            }
            guard customer.balance >= 0 else { throw SeedError("\(path): customer \(customer.customerId) has a negative balance") }
        }
    }
}

public struct SeedError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
