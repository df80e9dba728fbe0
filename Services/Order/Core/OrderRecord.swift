import EventSchema

/// One row of the Order service's `orders` table: everything the saga needs to
/// know about an order, flat so it maps to columns.
///
/// Column invariants (checked by ``isConsistent``): `cancelReason` is set iff the
/// status is CANCELLED, `paymentId` iff CONFIRMED, `closedAtUnixMs` iff terminal.
public struct OrderRecord: Sendable, Hashable {
    public var orderId: String
    public var customerId: String
    public var lines: [Saga_V1_OrderLine]
    public var total: Saga_V1_Money
    public var placedAtUnixMs: Int64
    public var deadlineUnixMs: Int64
    public var status: OrderStatus
    public var cancelReason: OrderCancelReason?
    /// The payment's failure reason when the cancellation came from Payment.
    public var paymentFailureReason: Saga_V1_PaymentFailureReason?
    /// The charge that confirmed the order (PaymentCharged.payment_id).
    public var paymentId: String?
    /// Human-readable cause of a cancellation, for the API and the notification.
    public var detail: String
    public var closedAtUnixMs: Int64?

    public init(
        orderId: String, customerId: String, lines: [Saga_V1_OrderLine], total: Saga_V1_Money,
        placedAtUnixMs: Int64, deadlineUnixMs: Int64, status: OrderStatus = .pending,
        cancelReason: OrderCancelReason? = nil, paymentFailureReason: Saga_V1_PaymentFailureReason? = nil,
        paymentId: String? = nil, detail: String = "", closedAtUnixMs: Int64? = nil
    ) {
        self.orderId = orderId
        self.customerId = customerId
        self.lines = lines
        self.total = total
        self.placedAtUnixMs = placedAtUnixMs
        self.deadlineUnixMs = deadlineUnixMs
        self.status = status
        self.cancelReason = cancelReason
        self.paymentFailureReason = paymentFailureReason
        self.paymentId = paymentId
        self.detail = detail
        self.closedAtUnixMs = closedAtUnixMs
    }

    public var isConsistent: Bool {
        (cancelReason != nil) == (status == .cancelled)
            && (paymentId != nil) == (status == .confirmed)
            && (closedAtUnixMs != nil) == status.isTerminal
    }

    func confirmed(paymentId: String, at now: Int64) -> OrderRecord {
        var next = self
        next.status = .confirmed
        next.paymentId = paymentId
        next.closedAtUnixMs = now
        return next
    }

    func cancelled(
        _ reason: OrderCancelReason, paymentFailure: Saga_V1_PaymentFailureReason? = nil,
        detail: String, at now: Int64
    ) -> OrderRecord {
        var next = self
        next.status = .cancelled
        next.cancelReason = reason
        next.paymentFailureReason = paymentFailure
        next.detail = detail
        next.closedAtUnixMs = now
        return next
    }
}
