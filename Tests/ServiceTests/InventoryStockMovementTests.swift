@testable import InventoryCore
@testable import InventoryService
import Messaging
import Persistence
import SagaAPI
import StoreFixtures
import XCTest

/// Inventory moves a transition's stock in one statement per kind, on both backends: lines of
/// one SKU count together, every SKU is conditional on its own row, and a movement that would
/// take any SKU below zero reports it, so the writer rolls the whole transaction back.
final class InventoryStockMovementTests: XCTestCase {
    /// Inventory's tables on each backend, with `stock` (SKU → units available) seeded.
    static func forEachStockedBackend(_ stock: KeyValuePairs<String, Int64>, _ body: (TestStore, any SQLDatabase) async throws -> Void) async throws {
        try await forEachBackend(migrations: MessagingSchema.migrations + InventorySchema.migrations) { store in
            let database = try await store.open()
            try await database.write { connection in
                _ = try InventoryStore.seed(stock.map { .init(sku: $0.key, unitPrice: 100, stock: $0.value) }, on: connection)
            }
            try await body(store, database)
        }
    }

    func testAllSkusOfATransitionMoveInOneStatementEachConditionalOnItsOwnRow() async throws {
        try await Self.forEachStockedBackend(["A": 5, "B": 1, "C": 9]) { store, database in
            func levels() async throws -> [String: [Int64]] {
                // A write: on PostgreSQL the store reads stock levels locked (FOR UPDATE).
                try await database.write { connection in
                    try InventoryStore.stock(["A", "B", "C"], on: connection).mapValues { [$0.available, $0.reserved, $0.sold] }
                }
            }
            func apply(_ movements: [StockMovement]) async throws -> Bool {
                try await database.write { try InventoryStore.apply(movements, on: $0) }
            }
            let reserved = try await apply([StockMovement(sku: "A", quantity: 2, kind: .reserve),
                                            StockMovement(sku: "B", quantity: 1, kind: .reserve),
                                            StockMovement(sku: "A", quantity: 1, kind: .reserve)])
            XCTAssertTrue(reserved, "[\(store.backend)]")
            var now = try await levels()
            XCTAssertEqual(now, ["A": [2, 3, 0], "B": [0, 1, 0], "C": [9, 0, 0]], "[\(store.backend)] two lines of A count together")

            // B has nothing left: the statement moves A but not B, and says so.
            let short = try await apply([StockMovement(sku: "A", quantity: 1, kind: .reserve),
                                         StockMovement(sku: "B", quantity: 1, kind: .reserve)])
            XCTAssertFalse(short, "[\(store.backend)] one SKU short is a movement that does not apply")

            // Sells and releases in one call: one statement per kind.
            now = try await levels()
            let settled = try await apply([StockMovement(sku: "A", quantity: 3, kind: .sell),
                                           StockMovement(sku: "B", quantity: 1, kind: .release)])
            XCTAssertTrue(settled, "[\(store.backend)]")
            let after = try await levels()
            XCTAssertEqual(after["A"], [now["A"]![0], now["A"]![1] - 3, 3], "[\(store.backend)]")
            XCTAssertEqual(after["B"], [1, 0, 0], "[\(store.backend)]")
            let oversold = try await apply([StockMovement(sku: "C", quantity: 1, kind: .sell)])
            XCTAssertFalse(oversold, "[\(store.backend)] nothing reserved to sell")
        }
    }
}
