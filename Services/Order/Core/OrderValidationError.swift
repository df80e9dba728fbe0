/// Why a place-order request was refused. Shaped for an RFC 9457 problem body:
/// `code` is the stable suffix of the problem `type`, `pointer` the JSON pointer of
/// the offending request field, `description` the human-readable `detail`.
public enum OrderValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    case missingField(pointer: String)
    case fieldTooLong(pointer: String, length: Int, max: Int)
    /// Whitespace or control characters in an identifier (they break logs and keys).
    case invalidCharacters(pointer: String)
    case noLines
    case tooManyLines(count: Int, max: Int)
    /// The same SKU on two lines: one line per SKU, so that Inventory's reservation
    /// and the notification read naturally.
    case duplicateSku(sku: String, line: Int)
    case quantityNotPositive(line: Int, quantity: Int)
    case quantityTooLarge(line: Int, quantity: Int, max: Int)
    case invalidCurrency(String)
    case unsupportedCurrency(String, supported: String)
    case unknownSku(line: Int, sku: String)
    /// The total does not fit in 64-bit minor units.
    case totalTooLarge

    public var code: String {
        switch self {
        case .missingField: "missing-field"
        case .fieldTooLong: "field-too-long"
        case .invalidCharacters: "invalid-characters"
        case .noLines: "no-lines"
        case .tooManyLines: "too-many-lines"
        case .duplicateSku: "duplicate-sku"
        case .quantityNotPositive: "quantity-not-positive"
        case .quantityTooLarge: "quantity-too-large"
        case .invalidCurrency: "invalid-currency"
        case .unsupportedCurrency: "unsupported-currency"
        case .unknownSku: "unknown-sku"
        case .totalTooLarge: "total-too-large"
        }
    }

    public var pointer: String? {
        switch self {
        case let .missingField(p), let .fieldTooLong(p, _, _), let .invalidCharacters(p): p
        case .noLines, .tooManyLines: "/lines"
        case let .duplicateSku(_, line), let .unknownSku(line, _): "/lines/\(line)/sku"
        case let .quantityNotPositive(line, _), let .quantityTooLarge(line, _, _): "/lines/\(line)/quantity"
        case .invalidCurrency, .unsupportedCurrency: "/currency"
        case .totalTooLarge: nil
        }
    }

    public var description: String {
        switch self {
        case let .missingField(p): "\(p) is required"
        case let .fieldTooLong(p, length, max): "\(p) has \(length) characters, at most \(max) allowed"
        case let .invalidCharacters(p): "\(p) must not contain whitespace or control characters"
        case .noLines: "an order needs at least one line"
        case let .tooManyLines(count, max): "\(count) lines, at most \(max) allowed"
        case let .duplicateSku(sku, line): "SKU \(sku) appears again on line \(line); use one line per SKU"
        case let .quantityNotPositive(line, quantity): "line \(line): quantity \(quantity) must be at least 1"
        case let .quantityTooLarge(line, quantity, max): "line \(line): quantity \(quantity) exceeds \(max)"
        case let .invalidCurrency(code): "\"\(code)\" is not an ISO 4217 code (three upper-case letters)"
        case let .unsupportedCurrency(code, supported): "orders are priced in \(supported), not \(code)"
        case let .unknownSku(line, sku): "line \(line): unknown SKU \(sku)"
        case .totalTooLarge: "the order total is too large"
        }
    }
}

/// Every problem found in one request, so the client can fix them all at once.
public struct OrderValidationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public let errors: [OrderValidationError]

    public init(_ errors: [OrderValidationError]) { self.errors = errors }

    public var title: String { "The order is invalid" }
    public var description: String { errors.map(\.description).joined(separator: "; ") }
}
