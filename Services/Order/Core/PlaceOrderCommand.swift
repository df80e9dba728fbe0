import EventSchema

/// POST /orders, already parsed. The order ID comes from the service (a new UUID,
/// or the one stored for a repeated Idempotency-Key), not from the client.
public struct PlaceOrder: Sendable, Hashable {
    public struct Line: Sendable, Hashable {
        public var sku: String
        /// Int, not Int32: an out-of-range quantity is a validation error, not a parse error.
        public var quantity: Int

        public init(sku: String, quantity: Int) {
            self.sku = sku
            self.quantity = quantity
        }
    }

    public var orderId: String
    public var customerId: String
    /// nil: the price list's currency.
    public var currency: String?
    public var lines: [Line]

    public init(orderId: String, customerId: String, currency: String? = nil, lines: [Line]) {
        self.orderId = orderId
        self.customerId = customerId
        self.currency = currency
        self.lines = lines
    }
}

extension OrderDecider {
    /// Validates the request and prices it: a new PENDING order and its
    /// OrderPlaced (`from == nil`: INSERT), or every validation error found.
    public static func place(
        _ command: PlaceOrder, prices: PriceList, policy: OrderPolicy, now: Int64
    ) -> Result<OrderTransition, OrderValidationFailure> {
        var errors: [OrderValidationError] = []
        errors += validateId(command.orderId, pointer: "/orderId", policy: policy)
        errors += validateId(command.customerId, pointer: "/customerId", policy: policy)

        let currency = command.currency ?? prices.currency
        if !Saga_V1_Money.isValidCurrencyCode(currency) {
            errors.append(.invalidCurrency(currency))
        } else if currency != prices.currency {
            errors.append(.unsupportedCurrency(currency, supported: prices.currency))
        }

        if command.lines.isEmpty { errors.append(.noLines) }
        if command.lines.count > policy.maxLines {
            errors.append(.tooManyLines(count: command.lines.count, max: policy.maxLines))
        }

        var seen: Set<String> = []
        var lines: [Saga_V1_OrderLine] = []
        for (index, line) in command.lines.enumerated() {
            errors += validateId(line.sku, pointer: "/lines/\(index)/sku", policy: policy)
            if !line.sku.isEmpty, !seen.insert(line.sku).inserted {
                errors.append(.duplicateSku(sku: line.sku, line: index))
            }
            if line.quantity < 1 {
                errors.append(.quantityNotPositive(line: index, quantity: line.quantity))
            } else if line.quantity > policy.maxQuantityPerLine {
                errors.append(.quantityTooLarge(line: index, quantity: line.quantity, max: policy.maxQuantityPerLine))
            }
            guard let price = prices.unitPrice(of: line.sku) else {
                if !line.sku.isEmpty { errors.append(.unknownSku(line: index, sku: line.sku)) }
                continue
            }
            lines.append(Saga_V1_OrderLine(sku: line.sku, quantity: Int32(clamping: line.quantity), unitPrice: price))
        }

        guard errors.isEmpty else { return .failure(OrderValidationFailure(errors)) }
        let total: Saga_V1_Money
        do {
            total = try Saga_V1_Money.sum(lines.map { try $0.lineTotal() }, currency: currency)
        } catch {
            return .failure(OrderValidationFailure([.totalTooLarge]))
        }

        let record = OrderRecord(
            orderId: command.orderId, customerId: command.customerId, lines: lines, total: total,
            placedAtUnixMs: now, deadlineUnixMs: now + policy.sagaTimeoutMs)
        return .success(OrderTransition(from: nil, to: record, events: [record.placedEvent]))
    }

    private static func validateId(_ value: String, pointer: String, policy: OrderPolicy) -> [OrderValidationError] {
        if value.isEmpty { return [.missingField(pointer: pointer)] }
        var errors: [OrderValidationError] = []
        let length = value.count
        if length > policy.maxIdLength {
            errors.append(.fieldTooLong(pointer: pointer, length: length, max: policy.maxIdLength))
        }
        if value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            errors.append(.invalidCharacters(pointer: pointer))
        }
        return errors
    }
}
