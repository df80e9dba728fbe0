import EventSchema

// Builders for the events the unit tests feed to the deciders. Defaults describe
// one order "o1" of customer "c1": 2 × A at 1.00 EUR + 1 × B at 2.50 EUR = 4.50 EUR.

func eur(_ minor: Int64) -> Saga_V1_Money { Saga_V1_Money(minorUnits: minor, currency: "EUR") }

func line(_ sku: String, _ quantity: Int32, _ price: Int64) -> Saga_V1_OrderLine {
    Saga_V1_OrderLine(sku: sku, quantity: quantity, unitPrice: eur(price))
}

enum Fixture {
    static let orderId = "o1"
    static let customerId = "c1"
    static let lines = [line("A", 2, 100), line("B", 1, 250)]
    static let total = eur(450)
    static let placedAt: Int64 = 1_000
    static let deadline: Int64 = 61_000
}

enum Ev {
    static func placed(_ id: String = Fixture.orderId, lines: [Saga_V1_OrderLine] = Fixture.lines,
                       total: Saga_V1_Money = Fixture.total, deadline: Int64 = Fixture.deadline) -> SagaEvent {
        var e = Saga_V1_OrderPlaced()
        e.orderID = id
        e.customerID = Fixture.customerId
        e.lines = lines
        e.total = total
        e.placedAtUnixMs = Fixture.placedAt
        e.deadlineUnixMs = deadline
        return .orderPlaced(e)
    }

    static func confirmed(_ id: String = Fixture.orderId) -> SagaEvent {
        var e = Saga_V1_OrderConfirmed()
        e.orderID = id
        e.customerID = Fixture.customerId
        e.total = Fixture.total
        e.paymentID = "\(id)/charge"
        return .orderConfirmed(e)
    }

    static func cancelled(_ id: String = Fixture.orderId, _ reason: Saga_V1_OrderCancelled.Reason = .timeout) -> SagaEvent {
        var e = Saga_V1_OrderCancelled()
        e.orderID = id
        e.customerID = Fixture.customerId
        e.reason = reason
        e.total = Fixture.total
        return .orderCancelled(e)
    }

    static func reserved(_ id: String = Fixture.orderId, customer: String = Fixture.customerId,
                         amount: Saga_V1_Money? = Fixture.total, deadline: Int64 = Fixture.deadline) -> SagaEvent {
        var e = Saga_V1_StockReserved()
        e.orderID = id
        e.customerID = customer
        e.lines = Fixture.lines
        if let amount { e.amount = amount }
        e.deadlineUnixMs = deadline
        return .stockReserved(e)
    }

    static func rejected(_ id: String = Fixture.orderId, _ reason: Saga_V1_StockRejected.Reason = .outOfStock) -> SagaEvent {
        var e = Saga_V1_StockRejected()
        e.orderID = id
        e.customerID = Fixture.customerId
        e.reason = reason
        var u = Saga_V1_StockRejected.UnavailableSku()
        u.sku = "A"
        u.requested = 2
        u.available = 1
        e.unavailable = [u]
        return .stockRejected(e)
    }

    static func released(_ id: String = Fixture.orderId, _ reason: Saga_V1_StockReleased.Reason = .paymentFailed,
                         payment: Saga_V1_PaymentFailureReason = .insufficientFunds) -> SagaEvent {
        var e = Saga_V1_StockReleased()
        e.orderID = id
        e.customerID = Fixture.customerId
        e.reason = reason
        e.lines = Fixture.lines
        e.paymentFailureReason = payment
        return .stockReleased(e)
    }

    static func charged(_ id: String = Fixture.orderId, amount: Saga_V1_Money = Fixture.total) -> SagaEvent {
        var e = Saga_V1_PaymentCharged()
        e.orderID = id
        e.customerID = Fixture.customerId
        e.amount = amount
        e.paymentID = "\(id)/charge"
        return .paymentCharged(e)
    }

    static func failed(_ id: String = Fixture.orderId, _ reason: Saga_V1_PaymentFailureReason = .insufficientFunds) -> SagaEvent {
        var e = Saga_V1_PaymentFailed()
        e.orderID = id
        e.customerID = Fixture.customerId
        e.amount = Fixture.total
        e.reason = reason
        return .paymentFailed(e)
    }

    static func refunded(_ id: String = Fixture.orderId) -> SagaEvent {
        var e = Saga_V1_PaymentRefunded()
        e.orderID = id
        e.customerID = Fixture.customerId
        e.amount = Fixture.total
        e.reason = .orderCancelled
        return .paymentRefunded(e)
    }

    static func notificationSent(_ id: String = Fixture.orderId) -> SagaEvent {
        var e = Saga_V1_NotificationSent()
        e.orderID = id
        e.kind = .orderConfirmed
        return .notificationSent(e)
    }

    /// One of every saga event for order `id`.
    static func all(_ id: String = Fixture.orderId) -> [SagaEvent] {
        [placed(id), confirmed(id), cancelled(id), reserved(id), rejected(id), released(id),
         charged(id), failed(id), refunded(id), notificationSent(id)]
    }
}
