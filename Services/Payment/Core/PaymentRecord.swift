import EventSchema

/// Payment's view of one order, as stored in the `payments.state` column.
///
/// ```
/// (none) ──StockReserved, funds ok──▶ CHARGED ──OrderCancelled──▶ REFUNDED
///   │  └───StockReserved, refused───▶ FAILED
///   └──OrderCancelled first─────────▶ CANCELLED ──late StockReserved──▶ FAILED (order_cancelled)
/// ```
/// Only CHARGED holds the customer's money for the order; FAILED and REFUNDED are final.
public enum PaymentState: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    case charged = "CHARGED"
    case failed = "FAILED"
    case refunded = "REFUNDED"
    /// OrderCancelled arrived before StockReserved: a tombstone so the order is never charged.
    case cancelled = "CANCELLED"

    public var description: String { rawValue }
}

/// One row of the `payments` table.
public struct PaymentRecord: Sendable, Hashable {
    public var orderId: String
    public var customerId: String
    public var state: PaymentState
    /// The amount asked for by StockReserved (nil while CANCELLED).
    public var amount: Saga_V1_Money?
    /// Set once charged, kept when refunded.
    public var paymentId: String?
    public var refundId: String?
    public var failureReason: Saga_V1_PaymentFailureReason?
    public var updatedAtUnixMs: Int64

    public init(
        orderId: String, customerId: String, state: PaymentState, amount: Saga_V1_Money? = nil,
        paymentId: String? = nil, refundId: String? = nil, failureReason: Saga_V1_PaymentFailureReason? = nil,
        updatedAtUnixMs: Int64
    ) {
        self.orderId = orderId
        self.customerId = customerId
        self.state = state
        self.amount = amount
        self.paymentId = paymentId
        self.refundId = refundId
        self.failureReason = failureReason
        self.updatedAtUnixMs = updatedAtUnixMs
    }

    /// What the order currently costs the customer: the amount while CHARGED, else 0.
    public var netCharge: Int64 {
        state == .charged ? (amount?.minorUnits ?? 0) : 0
    }
}
