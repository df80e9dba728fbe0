import EventSchema

/// The orders.v1 events, built from the record they describe.
extension OrderRecord {
    public var placedEvent: SagaEvent {
        var e = Saga_V1_OrderPlaced()
        e.orderID = orderId
        e.customerID = customerId
        e.lines = lines
        e.total = total
        e.placedAtUnixMs = placedAtUnixMs
        e.deadlineUnixMs = deadlineUnixMs
        return .orderPlaced(e)
    }

    /// The terminal event of a CONFIRMED or CANCELLED record; nil while PENDING.
    public var terminalEvent: SagaEvent? {
        switch status {
        case .pending:
            return nil
        case .confirmed:
            var e = Saga_V1_OrderConfirmed()
            e.orderID = orderId
            e.customerID = customerId
            e.total = total
            e.paymentID = paymentId ?? ""
            e.confirmedAtUnixMs = closedAtUnixMs ?? 0
            return .orderConfirmed(e)
        case .cancelled:
            var e = Saga_V1_OrderCancelled()
            e.orderID = orderId
            e.customerID = customerId
            e.reason = (cancelReason ?? .unknown).proto
            e.total = total
            e.cancelledAtUnixMs = closedAtUnixMs ?? 0
            e.paymentFailureReason = paymentFailureReason ?? .unspecified
            e.detail = detail
            return .orderCancelled(e)
        }
    }
}
