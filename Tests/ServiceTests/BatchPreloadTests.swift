import EventSchema
import Foundation
@testable import InventoryService
import Kafka
import Logging
@testable import Messaging
@testable import NotificationService
@testable import OrderService
import OrderCore
@testable import PaymentService
import Persistence
import StoreFixtures
import XCTest

/// A batch reads the rows its events' decisions need in one statement per table (the services'
/// `prepareBatch`), on both backends, and each preloaded row serves only the first decision on
/// it: a later event of the batch for the same order, SKU or account decides on the row as the
/// earlier one left it, not on the batch's reading.
final class BatchPreloadTests: XCTestCase {
    private func inbound(_ event: SagaEvent, offset: Int64, group: String) -> InboundEvent {
        ConcurrentInstancesTests.inbound(event, topic: event.topic.name, offset: offset, group: group)
    }

    /// The service's prelude, then its handler for each event, in one transaction on a connection
    /// that logs every statement, with the new rows queued (as the consumer's batch does them).
    private func runBatch(_ events: [InboundEvent], on database: any SQLDatabase,
                          prepare: @escaping @Sendable ([InboundEvent], UnitOfWork) throws -> Void,
                          handle: @escaping @Sendable (InboundEvent, UnitOfWork) throws -> HandlerOutcome) async throws -> [String] {
        try await database.write { connection in
            let log = StatementLog(connection)
            let unit = UnitOfWork(connection: log, signer: nil, queuesNewRows: true)
            try prepare(events, unit)
            for event in events { _ = try handle(event, unit) }
            try unit.flush()
            return log.statements
        }
    }

    private func count(_ fragment: String, in statements: [String]) -> Int {
        statements.filter { $0.contains(fragment) }.count
    }

    /// Statements of one `IN` read of `keys` keys: one on PostgreSQL; on SQLite one per
    /// power-of-two chunk (`MultiRowStatement`), each a call into the library, no round trip.
    private func inList(_ keys: Int, _ backend: Backend) -> Int {
        backend == .postgres ? 1 : keys.nonzeroBitCount
    }

    func testOrderDecidesEachOrderOnTheBatchReadingOnceThenOnItsOwnWrite() async throws {
        try await forEachBackend(migrations: MessagingSchema.migrations + OrderSchema.migrations) { store in
            let database = try await store.open()
            let total = Saga_V1_Money(minorUnits: 500, currency: "EUR")
            let far = EventEnvelope.nowUnixMs() + 3_600_000
            try await database.write { connection in
                try UnitOfWork.run(on: connection) { unit in
                    for id in ["o-1", "o-2", "o-3"] {
                        OrderStore.insert(OrderRecord(orderId: id, customerId: "C-1", lines: [], total: total,
                                                      placedAtUnixMs: far - 3_600_000, deadlineUnixMs: far),
                                          saga: nil, on: unit)
                    }
                }
            }
            func charged(_ id: String) -> SagaEvent {
                var event = Saga_V1_PaymentCharged()
                event.orderID = id
                event.customerID = "C-1"
                event.amount = total
                event.paymentID = "pay-\(id)"
                return .paymentCharged(event)
            }
            var rejected = Saga_V1_StockRejected()
            rejected.orderID = "o-2"
            rejected.customerID = "C-1"
            rejected.reason = .outOfStock
            var released = Saga_V1_StockReleased()
            released.orderID = "o-1"
            released.customerID = "C-1"
            released.reason = .orderCancelled
            let events = [charged("o-1"), .stockRejected(rejected), charged("o-3"), .stockReleased(released)]
                .enumerated().map { inbound($1, offset: Int64($0), group: "order") }

            let statements = try await runBatch(events, on: database, prepare: OrderEventHandler.prepare, handle: OrderEventHandler.handle)

            XCTAssertEqual(count("FROM orders WHERE order_id IN", in: statements), inList(3, store.backend), "[\(store.backend)] \(statements)")
            // o-1's second event reads o-1 again: the batch's reading served its first decision.
            XCTAssertEqual(count("FROM orders WHERE order_id = ?", in: statements), 1,
                           "[\(store.backend)] one read of its own for o-1's second event, none for the rest: \(statements)")
            // Decided on o-1 as CONFIRMED, the late StockReleased writes nothing: three updates, no lost race.
            XCTAssertEqual(count("UPDATE orders", in: statements), 3, "[\(store.backend)] \(statements)")
            let statuses = try await database.read { connection in
                try OrderStore.orders(["o-1", "o-2", "o-3"], on: connection).mapValues(\.status)
            }
            XCTAssertEqual(statuses, ["o-1": .confirmed, "o-2": .cancelled, "o-3": .confirmed], "[\(store.backend)]")
        }
    }

    func testASkuAnEarlierEventOfTheBatchMovedIsReadAgainNotTakenFromTheBatchReading() async throws {
        try await InventoryStockMovementTests.forEachStockedBackend(["A": 3, "B": 9, "C": 9]) { store, database in
            func placed(_ id: String, _ lines: [(String, Int32)]) -> SagaEvent {
                var event = Saga_V1_OrderPlaced()
                event.orderID = id
                event.customerID = "C-1"
                event.lines = lines.map { Saga_V1_OrderLine(sku: $0.0, quantity: $0.1, unitPrice: Saga_V1_Money(minorUnits: 100, currency: "EUR")) }
                event.total = Saga_V1_Money(minorUnits: Int64(lines.map(\.1).reduce(0, +)) * 100, currency: "EUR")
                event.deadlineUnixMs = EventEnvelope.nowUnixMs() + 60_000
                return .orderPlaced(event)
            }
            // Both want two of A's three: the second must see one left, and be rejected for it.
            let events = [placed("i-1", [("A", 2), ("B", 1)]), placed("i-2", [("A", 2), ("C", 1)]), placed("i-3", [("C", 1)])]
                .enumerated().map { inbound($1, offset: Int64($0), group: "inventory") }

            let statements = try await runBatch(events, on: database, prepare: InventoryEventHandler.prepare,
                                                handle: InventoryEventHandler.handle)

            XCTAssertEqual(count("FROM reservations WHERE order_id IN", in: statements), inList(3, store.backend), "[\(store.backend)] \(statements)")
            XCTAssertEqual(count("FROM reservations WHERE order_id = ?", in: statements), 0, "[\(store.backend)] \(statements)")
            // Three new reservations, one statement (SQLite: chunks of 2 and 1).
            XCTAssertEqual(count("INSERT INTO reservations", in: statements), store.backend == .postgres ? 1 : 2, "[\(store.backend)] \(statements)")
            // The batch's stock reading, then i-2 reading A again (i-1 took it) and i-3 reading C
            // again (i-2 took it, though i-2 moved nothing).
            XCTAssertEqual(count("FROM stock WHERE sku IN", in: statements), inList(3, store.backend) + 2, "[\(store.backend)] \(statements)")
            let states = try await database.read { connection in
                try InventoryStore.reservations(["i-1", "i-2", "i-3"], on: connection).mapValues(\.state)
            }
            XCTAssertEqual(states, ["i-1": .reserved, "i-2": .rejected, "i-3": .reserved], "[\(store.backend)]")
            let levels = try await database.write { try InventoryStore.stock(["A", "B", "C"], on: $0).mapValues(\.available) }
            XCTAssertEqual(levels, ["A": 1, "B": 8, "C": 8], "[\(store.backend)]")
        }
    }

    func testAnAccountAnEarlierEventOfTheBatchChargedIsReadAgainNotTakenFromTheBatchReading() async throws {
        try await forEachBackend(migrations: MessagingSchema.migrations + PaymentSchema.migrations) { store in
            let database = try await store.open()
            try await database.write { try PaymentStore.seed([.init(customerId: "C-1", balance: 1_000), .init(customerId: "C-2", balance: 1_000)],
                                                             currency: "EUR", on: $0) }
            func reserved(_ id: String, _ customer: String, _ amount: Int64) -> SagaEvent {
                var event = Saga_V1_StockReserved()
                event.orderID = id
                event.customerID = customer
                event.amount = Saga_V1_Money(minorUnits: amount, currency: "EUR")
                event.deadlineUnixMs = EventEnvelope.nowUnixMs() + 60_000
                return .stockReserved(event)
            }
            // C-1 can pay one of its two orders, not both.
            let events = [reserved("p-1", "C-1", 700), reserved("p-2", "C-2", 100), reserved("p-3", "C-1", 700)]
                .enumerated().map { inbound($1, offset: Int64($0), group: "payment") }

            let statements = try await runBatch(events, on: database, prepare: PaymentEventHandler.prepare, handle: PaymentEventHandler.handle)

            XCTAssertEqual(count("FROM payments WHERE order_id IN", in: statements), inList(3, store.backend), "[\(store.backend)] \(statements)")
            XCTAssertEqual(count("FROM payments WHERE order_id = ?", in: statements), 0, "[\(store.backend)] \(statements)")
            // Three new payment rows, one statement (SQLite: chunks of 2 and 1).
            XCTAssertEqual(count("INSERT INTO payments", in: statements), store.backend == .postgres ? 1 : 2, "[\(store.backend)] \(statements)")
            XCTAssertEqual(count("FROM accounts WHERE customer_id IN", in: statements), inList(2, store.backend), "[\(store.backend)] \(statements)")
            XCTAssertEqual(count("FROM accounts WHERE customer_id = ?", in: statements), 1,
                           "[\(store.backend)] p-3 reads C-1 again, after p-1 charged it: \(statements)")
            let payments = try await database.read { try PaymentStore.payments(["p-1", "p-2", "p-3"], on: $0).mapValues(\.state) }
            XCTAssertEqual(payments, ["p-1": .charged, "p-2": .charged, "p-3": .failed], "[\(store.backend)]")
        }
    }

    func testNotificationDecidesOnTheBatchReadingOfEachOrderAndKind() async throws {
        try await forEachBackend(migrations: MessagingSchema.migrations + NotificationSchema.migrations) { store in
            let database = try await store.open()
            // A webhook is called after the commit, by the delivery worker: the handler only records.
            let channel = try ChannelSettings.webhook(URL(string: "http://127.0.0.1:9/hook")!, secret: Array("secret".utf8))
                .makeChannel(logger: Logger(label: "test"))
            let delivered = DeliveredNotifications(channel: channel.kind, broadcaster: NotificationBroadcaster())
            func confirmed(_ id: String) -> SagaEvent {
                var event = Saga_V1_OrderConfirmed()
                event.orderID = id
                event.customerID = "C-1"
                event.total = Saga_V1_Money(minorUnits: 100, currency: "EUR")
                return .orderConfirmed(event)
            }
            // n-1 twice (a replay under another event id): the second decision reads n-1 again and records nothing.
            let events = [confirmed("n-1"), confirmed("n-2"), confirmed("n-1")]
                .enumerated().map { inbound($1, offset: Int64($0), group: "notification") }

            let statements = try await runBatch(events, on: database, prepare: NotificationEventHandler.prepare) { event, unit in
                try NotificationEventHandler.handle(event, unit, channel: channel, delivered: delivered)
            }

            XCTAssertEqual(count("FROM notifications WHERE order_id IN", in: statements), inList(2, store.backend), "[\(store.backend)] \(statements)")
            XCTAssertEqual(count("FROM notifications WHERE order_id = ?", in: statements), 1, "[\(store.backend)] \(statements)")
            // The two new rows in one statement, written before n-1's second reading; no lost race.
            XCTAssertEqual(count("INSERT INTO notifications", in: statements), 1, "[\(store.backend)] \(statements)")
            let rows = try await database.read { try NotificationStore.notifications(of: ["n-1", "n-2"], on: $0) }
            XCTAssertEqual(rows.count, 2, "[\(store.backend)]")
        }
    }
}
