/// Money arithmetic on integer minor units. Every operation checks currency and
/// overflow; nothing here ever uses floating point.
public enum MoneyError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalidCurrency(String)
    case currencyMismatch(expected: String, found: String)
    case overflow

    public var description: String {
        switch self {
        case let .invalidCurrency(code):
            "invalid currency code \"\(code)\" (expected three upper-case letters, ISO 4217)"
        case let .currencyMismatch(expected, found):
            "currency mismatch: expected \(expected), found \(found)"
        case .overflow:
            "amount overflows 64-bit minor units"
        }
    }
}

extension Saga_V1_Money {
    public init(minorUnits: Int64, currency: String) {
        self.init()
        self.minorUnits = minorUnits
        self.currency = currency
    }

    public static func zero(currency: String) -> Saga_V1_Money {
        Saga_V1_Money(minorUnits: 0, currency: currency)
    }

    /// Three ASCII upper-case letters. Shape only: whether the code is assigned
    /// in ISO 4217 is for the services' configuration to decide.
    public static func isValidCurrencyCode(_ code: String) -> Bool {
        let bytes = Array(code.utf8)
        return bytes.count == 3 && bytes.allSatisfy { (0x41...0x5A).contains($0) }
    }

    public var hasValidCurrency: Bool { Self.isValidCurrencyCode(currency) }

    public func adding(_ other: Saga_V1_Money) throws(MoneyError) -> Saga_V1_Money {
        try checkSameCurrency(other)
        let (sum, overflow) = minorUnits.addingReportingOverflow(other.minorUnits)
        guard !overflow else { throw .overflow }
        return Saga_V1_Money(minorUnits: sum, currency: currency)
    }

    public func subtracting(_ other: Saga_V1_Money) throws(MoneyError) -> Saga_V1_Money {
        try checkSameCurrency(other)
        let (difference, overflow) = minorUnits.subtractingReportingOverflow(other.minorUnits)
        guard !overflow else { throw .overflow }
        return Saga_V1_Money(minorUnits: difference, currency: currency)
    }

    public func multiplied(by factor: Int64) throws(MoneyError) -> Saga_V1_Money {
        guard hasValidCurrency else { throw .invalidCurrency(currency) }
        let (product, overflow) = minorUnits.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw .overflow }
        return Saga_V1_Money(minorUnits: product, currency: currency)
    }

    /// Sum of `amounts`, all of which must be in `currency`; zero when empty.
    public static func sum(
        _ amounts: some Sequence<Saga_V1_Money>, currency: String
    ) throws(MoneyError) -> Saga_V1_Money {
        var total = Saga_V1_Money.zero(currency: currency)
        guard total.hasValidCurrency else { throw .invalidCurrency(currency) }
        for amount in amounts {
            total = try total.adding(amount)
        }
        return total
    }

    /// Digits after the decimal point for ISO 4217 currencies (2 unless listed).
    public static func minorUnitDigits(for currency: String) -> Int {
        switch currency {
        case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
             "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
            0
        case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
            3
        case "CLF", "UYW":
            4
        default:
            2
        }
    }

    /// For logs and messages, e.g. "12.34 EUR", "-0.05 USD", "500 JPY". Exact:
    /// formatted from the integer, not via a floating-point value.
    public var formatted: String {
        let digits = Self.minorUnitDigits(for: currency)
        let magnitude = String(minorUnits.magnitude)
        let sign = minorUnits < 0 ? "-" : ""
        guard digits > 0 else { return "\(sign)\(magnitude) \(currency)" }
        let padded = String(repeating: "0", count: max(0, digits + 1 - magnitude.count)) + magnitude
        let split = padded.index(padded.endIndex, offsetBy: -digits)
        return "\(sign)\(padded[..<split]).\(padded[split...]) \(currency)"
    }

    private func checkSameCurrency(_ other: Saga_V1_Money) throws(MoneyError) {
        guard hasValidCurrency else { throw .invalidCurrency(currency) }
        guard other.currency == currency else {
            throw .currencyMismatch(expected: currency, found: other.currency)
        }
    }
}

extension Saga_V1_OrderLine {
    public init(sku: String, quantity: Int32, unitPrice: Saga_V1_Money) {
        self.init()
        self.sku = sku
        self.quantity = quantity
        self.unitPrice = unitPrice
    }

    /// quantity × unit price.
    public func lineTotal() throws(MoneyError) -> Saga_V1_Money {
        try unitPrice.multiplied(by: Int64(quantity))
    }
}

extension Saga_V1_OrderPlaced {
    /// Sum of the line totals in the currency of `total`; Order checks it equals
    /// `total` before accepting an order.
    public func linesTotal() throws(MoneyError) -> Saga_V1_Money {
        var sum = Saga_V1_Money.zero(currency: total.currency)
        guard sum.hasValidCurrency else { throw .invalidCurrency(total.currency) }
        for line in lines {
            sum = try sum.adding(line.lineTotal())
        }
        return sum
    }
}
