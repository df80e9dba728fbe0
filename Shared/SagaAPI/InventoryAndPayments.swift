/// One SKU of `GET /stock`: `initial` = `available` + `reserved` + `sold` while stock is conserved.
public struct StockView: Codable, Sendable, Hashable {
    public var sku: String
    public var initial: Int64
    public var available: Int64
    public var reserved: Int64
    public var sold: Int64

    public init(sku: String, initial: Int64, available: Int64, reserved: Int64, sold: Int64) {
        self.sku = sku
        self.initial = initial
        self.available = available
        self.reserved = reserved
        self.sold = sold
    }
}

/// One order's reservation in Inventory.
public struct ReservationView: Codable, Sendable, Hashable {
    public var orderId: String
    public var customerId: String
    /// RESERVED, REJECTED, SOLD, RELEASED or VOIDED.
    public var state: String
    public var lines: [Line]
    public var updatedAt: Int64

    public init(orderId: String, customerId: String, state: String, lines: [Line], updatedAt: Int64) {
        self.orderId = orderId
        self.customerId = customerId
        self.state = state
        self.lines = lines
        self.updatedAt = updatedAt
    }
}

/// One order's payment in Payment.
public struct PaymentView: Codable, Sendable, Hashable {
    public var orderId: String
    public var customerId: String
    /// CHARGED, FAILED, REFUNDED or CANCELLED.
    public var state: String
    public var amount: Money?
    public var paymentId: String?
    public var refundId: String?
    public var failureReason: String?
    /// What the customer is out of for this order now (charge minus refund), in minor units.
    public var netCharge: Int64

    public init(orderId: String, customerId: String, state: String, amount: Money?, paymentId: String?, refundId: String?,
                failureReason: String?, netCharge: Int64) {
        self.orderId = orderId
        self.customerId = customerId
        self.state = state
        self.amount = amount
        self.paymentId = paymentId
        self.refundId = refundId
        self.failureReason = failureReason
        self.netCharge = netCharge
    }
}

/// A customer's account in Payment.
public struct AccountView: Codable, Sendable, Hashable {
    public var customerId: String
    public var currency: String
    public var initialBalance: Int64
    public var balance: Int64
    public var blocked: Bool

    public init(customerId: String, currency: String, initialBalance: Int64, balance: Int64, blocked: Bool) {
        self.customerId = customerId
        self.currency = currency
        self.initialBalance = initialBalance
        self.balance = balance
        self.blocked = blocked
    }
}
