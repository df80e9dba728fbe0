import EventSchema

/// Limits and timing the Order service applies to new orders (from configuration).
public struct OrderPolicy: Sendable, Hashable {
    public var maxLines: Int
    public var maxQuantityPerLine: Int
    public var maxIdLength: Int
    /// Placed-at to deadline. Long enough for the happy path under load; the
    /// sweeper cancels after it and Payment refuses to charge after it. No default here:
    /// SAGA_TIMEOUT_MS's declaration (SettingsCatalog) is the one place that states it.
    public var sagaTimeoutMs: Int64

    public init(maxLines: Int = 50, maxQuantityPerLine: Int = 1_000, maxIdLength: Int = 128, sagaTimeoutMs: Int64) {
        // Quantities travel as int32.
        precondition(maxQuantityPerLine <= Int(Int32.max), "maxQuantityPerLine must fit in int32")
        self.maxLines = maxLines
        self.maxQuantityPerLine = maxQuantityPerLine
        self.maxIdLength = maxIdLength
        self.sagaTimeoutMs = sagaTimeoutMs
    }
}

/// Unit prices the Order service sells at, in one currency. Clients send SKUs and
/// quantities only: prices are never taken from the request.
public struct PriceList: Sendable, Hashable {
    public let currency: String
    public let unitPrices: [String: Int64]

    public init(currency: String, unitPrices: [String: Int64]) {
        precondition(Saga_V1_Money.isValidCurrencyCode(currency), "invalid currency \(currency)")
        precondition(unitPrices.values.allSatisfy { $0 >= 0 }, "negative unit price")
        self.currency = currency
        self.unitPrices = unitPrices
    }

    public func unitPrice(of sku: String) -> Saga_V1_Money? {
        unitPrices[sku].map { Saga_V1_Money(minorUnits: $0, currency: currency) }
    }
}
