import EventSchema
import OrderCore
import Testing

@Suite struct OrderPlacementTests {
    let prices = PriceList(currency: "EUR", unitPrices: ["A": 100, "B": 250, "FREE": 0])
    let policy = OrderPolicy(maxLines: 3, maxQuantityPerLine: 10, maxIdLength: 8, sagaTimeoutMs: 60_000)

    func place(_ lines: [PlaceOrder.Line], customer: String = "c1", currency: String? = nil, orderId: String = "o1")
        -> Result<OrderTransition, OrderValidationFailure> {
        OrderDecider.place(PlaceOrder(orderId: orderId, customerId: customer, currency: currency, lines: lines),
                           prices: prices, policy: policy, now: 1_000)
    }

    func errors(_ result: Result<OrderTransition, OrderValidationFailure>) -> [OrderValidationError] {
        if case let .failure(failure) = result { failure.errors } else { [] }
    }

    @Test func pricesTheOrderFromThePriceListAndEmitsOrderPlaced() throws {
        let t = try place([.init(sku: "A", quantity: 2), .init(sku: "B", quantity: 1), .init(sku: "FREE", quantity: 3)]).get()
        #expect(t.from == nil)
        #expect(t.to.status == .pending)
        #expect(t.to.total == eur(450))
        #expect(t.to.lines == [line("A", 2, 100), line("B", 1, 250), line("FREE", 3, 0)])
        #expect(t.to.placedAtUnixMs == 1_000)
        #expect(t.to.deadlineUnixMs == 61_000)
        #expect(t.to.isConsistent)
        guard case let .orderPlaced(e) = try #require(t.events.first), t.events.count == 1 else {
            Issue.record("expected one OrderPlaced, got \(t.events)")
            return
        }
        #expect(e.orderID == "o1" && e.customerID == "c1")
        #expect(e.total == eur(450) && e.deadlineUnixMs == 61_000 && e.placedAtUnixMs == 1_000)
        #expect(try e.linesTotal() == e.total)
    }

    @Test func currencyDefaultsToThePriceListsAndMustMatchIt() {
        #expect((try? place([.init(sku: "A", quantity: 1)], currency: "EUR").get()) != nil)
        #expect(errors(place([.init(sku: "A", quantity: 1)], currency: "USD")) == [.unsupportedCurrency("USD", supported: "EUR")])
        #expect(errors(place([.init(sku: "A", quantity: 1)], currency: "eur")) == [.invalidCurrency("eur")])
    }

    @Test func reportsEveryProblemOfARequestAtOnce() {
        let found = errors(place([
            .init(sku: "A", quantity: 0),
            .init(sku: "A", quantity: 11),
            .init(sku: "ZZZ", quantity: 1),
            .init(sku: "", quantity: -1),
        ], customer: ""))
        #expect(found == [
            .missingField(pointer: "/customerId"),
            .tooManyLines(count: 4, max: 3),
            .quantityNotPositive(line: 0, quantity: 0),
            .duplicateSku(sku: "A", line: 1),
            .quantityTooLarge(line: 1, quantity: 11, max: 10),
            .unknownSku(line: 2, sku: "ZZZ"),
            .missingField(pointer: "/lines/3/sku"),
            .quantityNotPositive(line: 3, quantity: -1),
        ])
    }

    @Test func rejectsEmptyOrdersAndBadIdentifiers() {
        #expect(errors(place([])) == [.noLines])
        #expect(errors(place([.init(sku: "A", quantity: 1)], customer: "c 1")) == [.invalidCharacters(pointer: "/customerId")])
        #expect(errors(place([.init(sku: "A", quantity: 1)], customer: "c\u{0}")) == [.invalidCharacters(pointer: "/customerId")])
        #expect(errors(place([.init(sku: "A", quantity: 1)], customer: "customer-1")) == [.fieldTooLong(pointer: "/customerId", length: 10, max: 8)])
        #expect(errors(place([.init(sku: "A", quantity: 1)], orderId: "")) == [.missingField(pointer: "/orderId")])
    }

    @Test func aTotalBeyond64BitsIsAValidationError() {
        let huge = PriceList(currency: "EUR", unitPrices: ["X": .max / 2])
        let result = OrderDecider.place(PlaceOrder(orderId: "o1", customerId: "c1", lines: [.init(sku: "X", quantity: 3)]),
                                        prices: huge, policy: policy, now: 0)
        #expect(errors(result) == [.totalTooLarge])
    }

    @Test func validationErrorsCarryProblemJSONFields() {
        let e = OrderValidationError.quantityTooLarge(line: 2, quantity: 11, max: 10)
        #expect(e.code == "quantity-too-large")
        #expect(e.pointer == "/lines/2/quantity")
        #expect(e.description == "line 2: quantity 11 exceeds 10")
        #expect(OrderValidationError.totalTooLarge.pointer == nil)
        let codes = Set([OrderValidationError.noLines, .totalTooLarge, .invalidCurrency("x"), .unknownSku(line: 0, sku: "s")].map(\.code))
        #expect(codes.count == 4)
        #expect(OrderValidationFailure([.noLines, .totalTooLarge]).description
            == "an order needs at least one line; the order total is too large")
    }
}
