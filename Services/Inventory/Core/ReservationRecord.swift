import EventSchema

/// Inventory's view of one order, as stored in the `reservations.state` column.
///
/// ```
/// (none) ──OrderPlaced, all lines available──▶ RESERVED ──OrderConfirmed──▶ SOLD
///   │  └───OrderPlaced, any line short───────▶ REJECTED      └─PaymentFailed / OrderCancelled──▶ RELEASED
///   └──OrderCancelled / PaymentFailed first──▶ VOIDED ──late OrderPlaced──▶ REJECTED
/// ```
/// Only RESERVED holds stock; SOLD, RELEASED and REJECTED are final.
public enum ReservationState: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case reserved = "RESERVED"
    case rejected = "REJECTED"
    case sold = "SOLD"
    case released = "RELEASED"
    /// The order ended before Inventory saw OrderPlaced (e.g. a dead-lettered
    /// OrderPlaced replayed late): a tombstone, so a late OrderPlaced reserves nothing.
    case voided = "VOIDED"

    public var description: String { rawValue }
    public var holdsStock: Bool { self == .reserved }
}

/// One row of the `reservations` table (the lines may live in a child table).
public struct ReservationRecord: Sendable, Hashable {
    public var orderId: String
    public var customerId: String
    public var state: ReservationState
    /// The order's lines as received in OrderPlaced (empty while VOIDED).
    public var lines: [Saga_V1_OrderLine]
    public var updatedAtUnixMs: Int64

    public init(orderId: String, customerId: String, state: ReservationState, lines: [Saga_V1_OrderLine], updatedAtUnixMs: Int64) {
        self.orderId = orderId
        self.customerId = customerId
        self.state = state
        self.lines = lines
        self.updatedAtUnixMs = updatedAtUnixMs
    }

    /// Units per SKU, lines of the same SKU added up, sorted by SKU (a stable lock order).
    public var quantities: [(sku: String, quantity: Int64)] {
        Self.quantities(of: lines)
    }

    static func quantities(of lines: [Saga_V1_OrderLine]) -> [(sku: String, quantity: Int64)] {
        var bySku: [String: Int64] = [:]
        for line in lines { bySku[line.sku, default: 0] += Int64(line.quantity) }
        return bySku.sorted { $0.key < $1.key }.map { (sku: $0.key, quantity: $0.value) }
    }

    func moved(to state: ReservationState, at now: Int64) -> ReservationRecord {
        var next = self
        next.state = state
        next.updatedAtUnixMs = now
        return next
    }
}
