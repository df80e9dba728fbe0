/// One row of the `stock` table. Conservation: `available + reserved + sold`
/// changes only by restocking, never through the saga.
public struct StockLevel: Sendable, Hashable {
    public var available: Int64
    public var reserved: Int64
    public var sold: Int64

    public init(available: Int64, reserved: Int64 = 0, sold: Int64 = 0) {
        self.available = available
        self.reserved = reserved
        self.sold = sold
    }

    public var total: Int64 { available + reserved + sold }
    public var isValid: Bool { available >= 0 && reserved >= 0 && sold >= 0 }

    /// The level after `movement`, or nil if a column would go negative: the same
    /// guard as the movement's conditional update.
    public func applying(_ movement: StockMovement) -> StockLevel? {
        let q = movement.quantity
        guard q >= 0 else { return nil }
        var next = self
        switch movement.kind {
        case .reserve:
            guard available >= q else { return nil }
            next.available -= q
            next.reserved += q
        case .release:
            guard reserved >= q else { return nil }
            next.reserved -= q
            next.available += q
        case .sell:
            guard reserved >= q else { return nil }
            next.reserved -= q
            next.sold += q
        }
        return next
    }
}

/// A change of one SKU's stock. The service applies a transition's movements of one kind in one
/// statement over all their SKUs (`UPDATE stock … FROM (VALUES (sku, q), …) AS v`), each row
/// conditional on its own SKU:
/// - reserve: `SET available = available - q, reserved = reserved + q WHERE available >= q`
/// - release: `SET reserved = reserved - q, available = available + q WHERE reserved >= q`
/// - sell:    `SET reserved = reserved - q, sold = sold + q WHERE reserved >= q`
/// Fewer rows updated than SKUs means the decision was made on stale stock: roll back.
public struct StockMovement: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case reserve, release, sell
    }

    public let sku: String
    public let quantity: Int64
    public let kind: Kind

    public init(sku: String, quantity: Int64, kind: Kind) {
        self.sku = sku
        self.quantity = quantity
        self.kind = kind
    }

    public var description: String { "\(kind) \(quantity) × \(sku)" }
}

extension Dictionary where Key == String, Value == StockLevel {
    /// All movements or none, like the service's transaction: nil if any SKU is
    /// missing or would go negative.
    public func applying(_ movements: [StockMovement]) -> [String: StockLevel]? {
        var next = self
        for movement in movements {
            guard let level = next[movement.sku]?.applying(movement) else { return nil }
            next[movement.sku] = level
        }
        return next
    }
}
