import EventSchema

/// Payment's saga rules: charge each order at most once, only while its saga is
/// alive, and give the money back once if the order is cancelled.
///
/// Decisions, beyond the architecture table:
/// - OrderCancelled before StockReserved leaves a CANCELLED tombstone and emits
///   nothing: nothing was charged, Inventory releases on the same OrderCancelled,
///   and Order is already cancelled. The late StockReserved is then answered with
///   PaymentFailed(ORDER_CANCELLED), so every StockReserved gets exactly one answer
///   (Inventory ignores it or releases, once; Order ignores it).
/// - Checks, in order: unknown customer, blocked, invalid amount (missing, negative,
///   or not the account's currency), insufficient funds.
/// - No clock decides here. The saga's deadline is Order's alone (its sweeper): Payment
///   charges whatever the event's deadline says compared with its own wall clock (another
///   machine's clock, possibly minutes off), and a charge that arrives after Order cancelled
///   is refunded on the OrderCancelled that follows. `now` only stamps the records.
/// - IDs are derived from the order ID, so a retried handler (crash before commit)
///   emits the same payment and refund IDs.
public enum PaymentDecider {
    public static let handledEvents: Set<EventType> = [.stockReserved, .orderCancelled]

    public static func paymentId(for orderId: String) -> String { "\(orderId)/charge" }
    public static func refundId(for orderId: String) -> String { "\(orderId)/refund" }

    /// The customer whose account `decide` needs: the charged customer once there
    /// is a payment row (refunds go back where the money came from), else the event's.
    public static func customerId(for event: SagaEvent, payment: PaymentRecord?) -> String? {
        if let payment { return payment.customerId }
        return switch event {
        case let .stockReserved(e): e.customerID
        case let .orderCancelled(e): e.customerID
        default: nil
        }
    }

    /// - Parameters:
    ///   - payment: the stored row for `event.orderId`, nil if none.
    ///   - account: the account of the customer concerned (the event's customer for
    ///     StockReserved, the charged customer for a refund), nil if none exists.
    public static func decide(_ payment: PaymentRecord?, account: Account?, on event: SagaEvent, now: Int64) -> PaymentDecision {
        let type = event.eventType
        guard handledEvents.contains(type) else { return .ignored(.notHandled(type)) }
        if let payment, payment.orderId != event.orderId {
            return .rejected(.orderIdMismatch(record: payment.orderId, event: event.orderId))
        }
        switch event {
        case let .stockReserved(reserved):
            switch payment?.state {
            case nil: return charge(reserved, account: account, now: now)
            case .cancelled?: return fail(reserved, .orderCancelled, "the order was cancelled before the charge", from: .cancelled, now: now)
            case let state?: return .ignored(.duplicate(type, state: state))
            }
        case let .orderCancelled(cancelled):
            guard let payment else {
                let tombstone = PaymentRecord(orderId: cancelled.orderID, customerId: cancelled.customerID,
                                              state: .cancelled, updatedAtUnixMs: now)
                return .transition(PaymentTransition(from: nil, to: tombstone, movements: [], events: []))
            }
            switch payment.state {
            case .charged: return refund(payment, account: account, now: now)
            case .refunded: return .ignored(.duplicate(type, state: .refunded))
            case .failed, .cancelled: return .ignored(.nothingCharged(type, state: payment.state))
            }
        default:
            return .ignored(.notHandled(type))
        }
    }

    private static func charge(_ reserved: Saga_V1_StockReserved, account: Account?, now: Int64) -> PaymentDecision {
        guard let account else { return fail(reserved, .unknownCustomer, "no account for customer \(reserved.customerID)", now: now) }
        guard account.customerId == reserved.customerID else {
            return .rejected(.accountMismatch(expected: reserved.customerID, found: account.customerId))
        }
        let amount = reserved.amount
        if account.blocked { return fail(reserved, .customerBlocked, "the customer is blocked", now: now) }
        guard reserved.hasAmount, amount.minorUnits >= 0, amount.currency == account.currency else {
            return fail(reserved, .invalidAmount, "cannot charge \(amount.formatted) to an account in \(account.currency)", now: now)
        }
        guard account.balance >= amount.minorUnits else {
            return fail(reserved, .insufficientFunds, "balance is below \(amount.formatted)", now: now)
        }

        let paymentId = paymentId(for: reserved.orderID)
        let record = PaymentRecord(orderId: reserved.orderID, customerId: reserved.customerID, state: .charged,
                                   amount: amount, paymentId: paymentId, updatedAtUnixMs: now)
        var e = Saga_V1_PaymentCharged()
        e.orderID = reserved.orderID
        e.customerID = reserved.customerID
        e.amount = amount
        e.paymentID = paymentId
        e.chargedAtUnixMs = now
        let movement = AccountMovement(customerId: account.customerId, kind: .charge, amount: amount.minorUnits)
        return .transition(PaymentTransition(from: nil, to: record, movements: [movement], events: [.paymentCharged(e)]))
    }

    private static func fail(
        _ reserved: Saga_V1_StockReserved, _ reason: Saga_V1_PaymentFailureReason, _ detail: String,
        from: PaymentState? = nil, now: Int64
    ) -> PaymentDecision {
        let record = PaymentRecord(orderId: reserved.orderID, customerId: reserved.customerID, state: .failed,
                                   amount: reserved.amount, failureReason: reason, updatedAtUnixMs: now)
        var e = Saga_V1_PaymentFailed()
        e.orderID = reserved.orderID
        e.customerID = reserved.customerID
        e.amount = reserved.amount
        e.reason = reason
        e.failedAtUnixMs = now
        e.detail = detail
        return .transition(PaymentTransition(from: from, to: record, movements: [], events: [.paymentFailed(e)]))
    }

    private static func refund(_ payment: PaymentRecord, account: Account?, now: Int64) -> PaymentDecision {
        guard let account else { return .rejected(.accountMissing(customerId: payment.customerId)) }
        guard account.customerId == payment.customerId else {
            return .rejected(.accountMismatch(expected: payment.customerId, found: account.customerId))
        }
        let amount = payment.amount ?? .zero(currency: account.currency)
        var refunded = payment
        refunded.state = .refunded
        refunded.refundId = refundId(for: payment.orderId)
        refunded.updatedAtUnixMs = now
        var e = Saga_V1_PaymentRefunded()
        e.orderID = payment.orderId
        e.customerID = payment.customerId
        e.amount = amount
        e.paymentID = payment.paymentId ?? ""
        e.reason = .orderCancelled
        e.refundID = refunded.refundId!
        e.refundedAtUnixMs = now
        let movement = AccountMovement(customerId: payment.customerId, kind: .refund, amount: amount.minorUnits)
        return .transition(PaymentTransition(from: .charged, to: refunded, movements: [movement], events: [.paymentRefunded(e)]))
    }
}
