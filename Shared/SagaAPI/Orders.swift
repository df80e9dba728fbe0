/// Money on the wire: integer minor units and an ISO currency, as in the events.
public struct Money: Codable, Sendable, Hashable {
    public var minorUnits: Int64
    public var currency: String

    public init(minorUnits: Int64, currency: String) {
        self.minorUnits = minorUnits
        self.currency = currency
    }
}

/// An order line in answers (and in the services' `lines` columns).
public struct Line: Codable, Sendable, Hashable {
    public var sku: String
    public var quantity: Int32
    /// Absent where a service does not know prices (Inventory).
    public var unitPrice: Money?

    public init(sku: String, quantity: Int32, unitPrice: Money? = nil) {
        self.sku = sku
        self.quantity = quantity
        self.unitPrice = unitPrice
    }
}

/// The body of `POST /orders`. Prices are never taken from the request.
public struct PlaceOrderRequest: Codable, Sendable, Hashable {
    public struct Line: Codable, Sendable, Hashable {
        public var sku: String
        public var quantity: Int

        public init(sku: String, quantity: Int) {
            self.sku = sku
            self.quantity = quantity
        }
    }

    public var customerId: String
    public var currency: String
    public var lines: [Line]

    public init(customerId: String, currency: String, lines: [Line]) {
        self.customerId = customerId
        self.currency = currency
        self.lines = lines
    }
}

/// An order as `GET /orders/{id}` and `POST /orders` answer it.
public struct OrderView: Codable, Sendable, Hashable {
    /// One event of the order's saga, as Order recorded it.
    public struct HistoryEntry: Codable, Sendable, Hashable {
        public var topic: String
        public var eventType: String
        public var eventId: String
        public var sequence: Int64
        public var at: Int64

        public init(topic: String, eventType: String, eventId: String, sequence: Int64, at: Int64) {
            self.topic = topic
            self.eventType = eventType
            self.eventId = eventId
            self.sequence = sequence
            self.at = at
        }
    }

    public var orderId: String
    public var customerId: String
    /// PENDING, CONFIRMED or CANCELLED.
    public var status: String
    /// out_of_stock, payment_failed, timeout or unknown; absent while not cancelled.
    public var cancelReason: String?
    public var detail: String
    public var total: Money
    public var lines: [Line]
    /// Unix milliseconds, by the database's clock.
    public var placedAt: Int64
    public var deadline: Int64
    public var closedAt: Int64?
    /// `GET /orders/{id}` only.
    public var history: [HistoryEntry]?

    public init(orderId: String, customerId: String, status: String, cancelReason: String?, detail: String, total: Money,
                lines: [Line], placedAt: Int64, deadline: Int64, closedAt: Int64?, history: [HistoryEntry]?) {
        self.orderId = orderId
        self.customerId = customerId
        self.status = status
        self.cancelReason = cancelReason
        self.detail = detail
        self.total = total
        self.lines = lines
        self.placedAt = placedAt
        self.deadline = deadline
        self.closedAt = closedAt
        self.history = history
    }
}

/// One entry of `GET /orders` (the audit's listing).
public struct OrderSummary: Codable, Sendable, Hashable {
    public var orderId: String
    public var customerId: String
    public var status: String
    public var cancelReason: String?
    public var total: Money
    public var lines: [Line]

    public init(orderId: String, customerId: String, status: String, cancelReason: String?, total: Money, lines: [Line]) {
        self.orderId = orderId
        self.customerId = customerId
        self.status = status
        self.cancelReason = cancelReason
        self.total = total
        self.lines = lines
    }
}
