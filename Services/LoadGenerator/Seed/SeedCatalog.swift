import Foundation

/// The seed catalog of Services/API.md: what the services start from, and what the load
/// generator picks SKUs and customers from.
struct SeedCatalog: Codable, Sendable, Equatable {
    struct SKU: Codable, Sendable, Equatable {
        var sku: String
        var unitPrice: Int64
        var stock: Int64
    }

    struct Customer: Codable, Sendable, Equatable {
        var customerId: String
        var balance: Int64
        var blocked: Bool
    }

    var currency: String
    var skus: [SKU]
    var customers: [Customer]

    /// Sorted keys and pretty printing: the same catalog always gives the same bytes.
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    static func load(path: String) throws -> SeedCatalog {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadGenError("cannot read the seed file \(path) (--seed-file); write one with `loadgen seed --out \(path)`")
        }
        do {
            return try JSONDecoder().decode(SeedCatalog.self, from: data)
        } catch {
            throw LoadGenError("the seed file \(path) is not a seed catalog (format in Services/API.md): \(error)")
        }
    }
}

/// A failure the user can fix; the message says how.
struct LoadGenError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
