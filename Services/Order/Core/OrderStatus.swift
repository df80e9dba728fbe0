import EventSchema

/// The saga state of one order, as stored in the `status` column.
///
/// ```
/// (new) ──place──▶ PENDING ──PaymentCharged──────────────────────────▶ CONFIRMED
///                     └────StockRejected / PaymentFailed / StockReleased
///                          / deadline passed (sweeper) ──────────────▶ CANCELLED
/// ```
/// CONFIRMED and CANCELLED are terminal: nothing changes them.
public enum OrderStatus: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case pending = "PENDING"
    case confirmed = "CONFIRMED"
    case cancelled = "CANCELLED"

    public var isTerminal: Bool { self != .pending }
    public var description: String { rawValue }
}

/// Why an order was cancelled, as stored in the `cancel_reason` column.
public enum OrderCancelReason: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// Inventory rejected the reservation (StockRejected, whatever its reason).
    case outOfStock = "out_of_stock"
    /// Payment did not charge (PaymentFailed, or StockReleased after it).
    case paymentFailed = "payment_failed"
    /// The saga deadline passed: the Order sweeper, or Payment refusing with DEADLINE_PASSED.
    case timeout = "timeout"
    /// The reservation was released for a reason this code does not know (a newer
    /// producer's enum value): the order cannot complete, so it is cancelled anyway.
    case unknown = "unknown"

    public var description: String { rawValue }

    public var proto: Saga_V1_OrderCancelled.Reason {
        switch self {
        case .outOfStock: .outOfStock
        case .paymentFailed: .paymentFailed
        case .timeout: .timeout
        case .unknown: .unspecified
        }
    }
}
