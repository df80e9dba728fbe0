import InventoryCore
import PaymentCore
import Testing

/// The guards of the conditional updates that move stock and money.
@Suite struct ResourceTests {
    @Test func stockMovementsNeverDriveAColumnNegativeAndConserveTheTotal() {
        let level = StockLevel(available: 2, reserved: 1, sold: 4)
        #expect(level.applying(StockMovement(sku: "A", quantity: 2, kind: .reserve)) == StockLevel(available: 0, reserved: 3, sold: 4))
        #expect(level.applying(StockMovement(sku: "A", quantity: 3, kind: .reserve)) == nil)
        #expect(level.applying(StockMovement(sku: "A", quantity: 1, kind: .release)) == StockLevel(available: 3, reserved: 0, sold: 4))
        #expect(level.applying(StockMovement(sku: "A", quantity: 2, kind: .release)) == nil)
        #expect(level.applying(StockMovement(sku: "A", quantity: 1, kind: .sell)) == StockLevel(available: 2, reserved: 0, sold: 5))
        #expect(level.applying(StockMovement(sku: "A", quantity: 2, kind: .sell)) == nil)
        #expect(level.applying(StockMovement(sku: "A", quantity: -1, kind: .release)) == nil)
        for kind in StockMovement.Kind.allCases {
            #expect(level.applying(StockMovement(sku: "A", quantity: 1, kind: kind)).map(\.total) == level.total)
        }
    }

    @Test func movementsOfOneTransactionApplyAllOrNothing() {
        let stock = ["A": StockLevel(available: 1), "B": StockLevel(available: 0)]
        #expect(stock.applying([StockMovement(sku: "A", quantity: 1, kind: .reserve), StockMovement(sku: "B", quantity: 1, kind: .reserve)]) == nil)
        #expect(stock.applying([StockMovement(sku: "C", quantity: 1, kind: .release)]) == nil, "unknown SKU")
        #expect(stock.applying([])  == stock)
    }

    @Test func chargesNeedFundsAndAnUnblockedAccount() {
        let account = Account(customerId: "c1", currency: "EUR", balance: 100)
        #expect(account.applying(AccountMovement(customerId: "c1", kind: .charge, amount: 100))?.balance == 0)
        #expect(account.applying(AccountMovement(customerId: "c1", kind: .charge, amount: 101)) == nil)
        #expect(account.applying(AccountMovement(customerId: "c2", kind: .charge, amount: 1)) == nil)
        #expect(account.applying(AccountMovement(customerId: "c1", kind: .charge, amount: -1)) == nil)
        var blocked = account
        blocked.blocked = true
        #expect(blocked.applying(AccountMovement(customerId: "c1", kind: .charge, amount: 1)) == nil)
        #expect(blocked.applying(AccountMovement(customerId: "c1", kind: .refund, amount: 1))?.balance == 101)
        #expect(Account(customerId: "c1", currency: "EUR", balance: .max).applying(AccountMovement(customerId: "c1", kind: .refund, amount: 1)) == nil)
    }
}
