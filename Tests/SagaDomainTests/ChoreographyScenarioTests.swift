import EventSchema
import InventoryCore
import OrderCore
import PaymentCore
import Testing

/// The saga's tricky orderings, step by step, on the simulator: one order of
/// 2 × sku-0 at 1.00 EUR, by a customer with 10.00 EUR, deadline 100 ms after placing.
@Suite struct ChoreographyScenarioTests {
    func start(balance: Int64 = 1_000) -> SagaSimulation {
        var sim = SagaSimulation(World(
            stock: [5], prices: [100], customers: [World.Customer(balance: balance, blocked: false)],
            orders: [World.Order(customer: 0, lines: [(sku: 0, quantity: 2)])],
            sagaTimeout: 100, paymentClockSkew: 0, sweeperRate: 0, seed: 7))
        sim.place(0)
        return sim
    }

    let id = World.order(0)

    func expectConsistent(_ sim: SagaSimulation, sourceLocation: SourceLocation = #_sourceLocation) {
        let violations = sim.invariantViolations()
        #expect(violations.isEmpty, "\(violations)", sourceLocation: sourceLocation)
    }

    @Test func happyPath() {
        var sim = start()
        sim.drain()
        #expect(sim.orders[id]?.status == .confirmed)
        #expect(sim.reservations[id]?.state == .sold && sim.stock["sku-0"] == StockLevel(available: 3, sold: 2))
        #expect(sim.payments[id]?.state == .charged && sim.accounts["cust-0"]?.balance == 800)
        #expect(sim.notifications.values.map(\.kind) == [.orderConfirmed])
        expectConsistent(sim)
    }

    @Test func paymentFailsThenStockIsReleasedOnce() {
        var sim = start(balance: 199)
        sim.drain()
        #expect(sim.orders[id]?.cancelReason == .paymentFailed && sim.orders[id]?.paymentFailureReason == .insufficientFunds)
        // Released on PaymentFailed; the OrderCancelled that follows finds nothing held.
        #expect(sim.reservations[id]?.state == .released && sim.stock["sku-0"] == StockLevel(available: 5))
        expectConsistent(sim)
    }

    @Test func theTimeoutBeatsTheChargeWhichIsRefunded() {
        var sim = start()
        sim.deliverAll(to: .inventory)           // reserved
        sim.deliverAll(to: .payment)             // charged
        sim.now += 100
        sim.sweep()                              // CANCELLED(timeout) before Order reads PaymentCharged
        sim.drain()
        #expect(sim.orders[id]?.cancelReason == .timeout)
        #expect(sim.payments[id]?.state == .refunded && sim.accounts["cust-0"]?.balance == 1_000)
        #expect(sim.reservations[id]?.state == .released && sim.stock["sku-0"] == StockLevel(available: 5))
        #expect(sim.notifications.values.map(\.kind) == [.orderCancelled])
        expectConsistent(sim)
    }

    @Test func paymentSeesTheCancellationBeforeStockReserved() {
        var sim = start()
        sim.deliverAll(to: .inventory)           // StockReserved in flight to Payment
        sim.now += 100
        sim.sweep()
        sim.deliverAll(to: .payment, on: TopicCatalog.orders)   // OrderCancelled first: tombstone
        #expect(sim.payments[id]?.state == .cancelled)
        sim.drain()                              // the late StockReserved is refused, never charged
        #expect(sim.payments[id]?.state == .failed && sim.payments[id]?.failureReason == .orderCancelled)
        #expect(sim.accounts["cust-0"]?.balance == 1_000)
        #expect(sim.reservations[id]?.state == .released)
        expectConsistent(sim)
    }

    @Test func aDeadLetteredOrderPlacedReplayedAfterTheCancellationReservesNothing() throws {
        var sim = start()
        // Inventory's consumer dead-letters OrderPlaced and moves on.
        let cursor = SagaSimulation.Cursor(service: .inventory, topic: TopicCatalog.orders.name, orderId: id)
        let placed = sim.log[cursor.topic]![id]![0]
        sim.positions[cursor] = 1
        sim.now += 100
        sim.sweep()
        sim.drain()                              // Inventory sees OrderCancelled first: VOIDED
        #expect(sim.reservations[id]?.state == .voided)
        sim.inventoryService(placed)             // an operator replays the dead letter
        sim.drain()
        #expect(sim.reservations[id]?.state == .rejected && sim.stock["sku-0"] == StockLevel(available: 5))
        #expect(sim.emitted.contains { if case let .stockRejected(e) = $0 { e.reason == .orderCancelled } else { false } })
        #expect(sim.orders[id]?.cancelReason == .timeout)
        expectConsistent(sim)
    }
}
