import Deciding
import EventSchema
import InventoryCore
import Messaging
import Persistence
import ServiceKit

/// What Inventory does with orders.v1 and payments.v1: reserves all lines of an OrderPlaced
/// or rejects it; sells on OrderConfirmed; releases on PaymentFailed and OrderCancelled.
/// (The runtime hands it only `InventoryDecider.handledEvents`.)
enum InventoryEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        try TransitionWriter.handle(event, with: ReservationStep(event: event.event), unit: unit)
    }

    /// Locks, before any handler runs, the stock rows every event of the batch will read or move,
    /// sorted by SKU across the whole batch: two instances (PostgreSQL) whose batches share SKUs
    /// then queue on them in one order instead of deadlocking. SQLite has one writer.
    static func lockStock(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        guard unit.connection.dialect == .postgres else { return }
        var skus = Set<String>()
        var reservedOrders: [String] = []
        for event in events {
            if case .orderPlaced(let placed) = event.event {
                skus.formUnion(placed.lines.map(\.sku))
            } else {
                reservedOrders.append(event.envelope.orderId)
            }
        }
        skus.formUnion(try InventoryStore.reservedSkus(of: reservedOrders, on: unit.connection))
        try InventoryStore.lockStock(skus.sorted(), on: unit.connection)
    }
}

/// Inventory's part of the write path: an order's reservation and the stock it moves.
struct ReservationStep: TransitionStep {
    let event: SagaEvent

    struct Loaded {
        var reservation: ReservationRecord?
        var stock: [String: StockLevel]
    }

    var subject: String { "reservation of \(event.orderId)" }

    func load(on connection: any SQLConnection) throws -> Loaded {
        let reservation = try InventoryStore.reservation(event.orderId, on: connection)
        let skus = InventoryDecider.skus(for: event, reservation: reservation)
        return Loaded(reservation: reservation, stock: try InventoryStore.stock(skus, on: connection))
    }

    func decide(_ loaded: Loaded) -> Decided<InventoryTransition> {
        InventoryDecider.decide(loaded.reservation, stock: loaded.stock, on: event, now: EventEnvelope.nowUnixMs()).decided
    }

    func describe(_ loaded: Loaded) -> String {
        "reservation \(loaded.reservation?.state.rawValue ?? "none"), stock \(loaded.stock.sorted { $0.key < $1.key })"
    }

    func write(_ transition: InventoryTransition, on connection: any SQLConnection) throws -> Bool {
        try InventoryStore.write(transition.to, from: transition.from, on: connection)
    }

    func move(_ movements: [StockMovement], on connection: any SQLConnection) throws -> Bool {
        try InventoryStore.apply(movements, on: connection)
    }
}
