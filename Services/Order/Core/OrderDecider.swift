import EventSchema

/// The Order service's saga rules: PENDING ends exactly once, on the first
/// decisive event or on the deadline, whichever the conditional update lets win.
///
/// Decisions, beyond the architecture table:
/// - PaymentFailed cancels the order directly (payment_failed), and so does
///   StockReleased(PAYMENT_FAILED): whichever arrives first wins, the other is a
///   duplicate. Waiting for Inventory's StockReleased would only delay the end and
///   make it depend on Inventory being up; Inventory releases on PaymentFailed and
///   on OrderCancelled anyway, once.
/// - A payment failure with reason DEADLINE_PASSED cancels with reason timeout.
/// - StockReleased with any other reason while PENDING (cannot happen with today's
///   producers) still cancels: the reservation is gone, so the order cannot complete.
/// - PaymentCharged after the deadline but before the sweeper confirms: the
///   deadline is the sweeper's trigger, not a rule on events.
public enum OrderDecider {
    /// The event types this service reacts to; it ignores every other one.
    public static let handledEvents: Set<EventType> = [.stockRejected, .stockReleased, .paymentCharged, .paymentFailed]

    /// Reacts to an event from inventory.v1 or payments.v1. `order` is the stored
    /// record for `event.orderId`, nil if there is none.
    public static func decide(_ order: OrderRecord?, on event: SagaEvent, now: Int64) -> OrderDecision {
        let type = event.eventType
        guard handledEvents.contains(type) else { return .ignored(.notHandled(type)) }
        guard let order else { return .rejected(.unknownOrder(orderId: event.orderId)) }
        guard order.orderId == event.orderId else {
            return .rejected(.orderIdMismatch(record: order.orderId, event: event.orderId))
        }
        let outcome = outcome(of: event, for: order, now: now)
        guard order.status == .pending else {
            let same = (try? outcome.get()).map {
                $0.status == order.status && $0.cancelReason == order.cancelReason
            } ?? false
            return .ignored(same ? .duplicate(type, status: order.status) : .lateAfterTerminal(type, status: order.status))
        }
        switch outcome {
        case let .success(next): return end(order, as: next)
        case let .failure(rejection): return .rejected(rejection)
        }
    }

    /// The sweeper's command for an order whose deadline may have passed.
    public static func timeout(_ order: OrderRecord, now: Int64) -> OrderDecision {
        guard order.status == .pending else {
            return .ignored(.alreadyTerminal(order.status))
        }
        guard now >= order.deadlineUnixMs else {
            return .ignored(.deadlineNotReached(deadlineUnixMs: order.deadlineUnixMs, nowUnixMs: now))
        }
        return end(order, as: order.cancelled(.timeout, detail: "the saga deadline passed", at: now))
    }

    private static func end(_ order: OrderRecord, as next: OrderRecord) -> OrderDecision {
        // terminalEvent is non-nil: every outcome is CONFIRMED or CANCELLED.
        .transition(OrderTransition(from: order.status, to: next, events: [next.terminalEvent!]))
    }

    /// The record this event would produce for a PENDING order.
    private static func outcome(of event: SagaEvent, for order: OrderRecord, now: Int64) -> Result<OrderRecord, OrderRejection> {
        switch event {
        case let .paymentCharged(e):
            guard e.amount.minorUnits == order.total.minorUnits, e.amount.currency == order.total.currency else {
                return .failure(.chargeDoesNotMatchTotal(total: order.total, charged: e.amount))
            }
            return .success(order.confirmed(paymentId: e.paymentID, at: now))
        case let .paymentFailed(e):
            return .success(cancelForPayment(order, e.reason, detail: e.detail, now: now))
        case let .stockReleased(e):
            if e.reason == .paymentFailed {
                return .success(cancelForPayment(order, e.paymentFailureReason, detail: "", now: now))
            }
            return .success(order.cancelled(.unknown, detail: "stock released (\(e.reason))", at: now))
        case let .stockRejected(e):
            return .success(order.cancelled(.outOfStock, detail: describe(e), at: now))
        default:
            // Unreachable: decide() filters on handledEvents.
            return .success(order)
        }
    }

    private static func cancelForPayment(
        _ order: OrderRecord, _ reason: Saga_V1_PaymentFailureReason, detail: String, now: Int64
    ) -> OrderRecord {
        let text = "payment failed: \(describe(reason))" + (detail.isEmpty ? "" : " (\(detail))")
        let cancelReason: OrderCancelReason = reason == .deadlinePassed ? .timeout : .paymentFailed
        return order.cancelled(cancelReason, paymentFailure: reason, detail: text, at: now)
    }

    private static func describe(_ e: Saga_V1_StockRejected) -> String {
        let what: String = switch e.reason {
        case .outOfStock: "out of stock"
        case .unknownSku: "unknown SKU"
        case .invalidOrder: "invalid order"
        case .orderCancelled: "order already cancelled"
        case .unspecified, .UNRECOGNIZED: "stock rejected"
        }
        let skus = e.unavailable.map { "\($0.sku) (requested \($0.requested), available \($0.available))" }
        let parts = [what] + (skus.isEmpty ? [] : [skus.joined(separator: ", ")]) + (e.detail.isEmpty ? [] : [e.detail])
        return parts.joined(separator: ": ")
    }

    private static func describe(_ reason: Saga_V1_PaymentFailureReason) -> String {
        switch reason {
        case .insufficientFunds: "insufficient funds"
        case .customerBlocked: "customer blocked"
        case .orderCancelled: "order cancelled"
        case .unknownCustomer: "unknown customer"
        case .deadlinePassed: "deadline passed"
        case .invalidAmount: "invalid amount"
        case .unspecified, .UNRECOGNIZED: "reason unknown"
        }
    }
}
