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

    /// Before any handler runs: reads the reservations of the batch's orders, then the stock
    /// rows every event will read or move, sorted by SKU across the whole batch and locked
    /// (PostgreSQL: two instances whose batches share SKUs queue on them in one order instead of
    /// deadlocking; SQLite has one writer), one statement each, and keeps both for the decisions.
    /// Reservations are safe to keep: their writers take the order's sequence rows first.
    static func prepare(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        let orderIds = events.map(\.envelope.orderId)
        let reservations = try InventoryStore.reservations(orderIds, on: unit.connection)
        var skus = Set<String>()
        for event in events {
            skus.formUnion(InventoryDecider.skus(for: event.event, reservation: reservations[event.envelope.orderId]))
        }
        let sorted = skus.sorted()
        unit.preload(reservations, for: orderIds)
        unit.preload(try InventoryStore.stock(sorted, on: unit.connection), for: sorted)
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

    /// The batch's reading of the reservation and of each SKU is taken by the first decision
    /// that needs it; a SKU an earlier event of the batch took (and maybe moved) is read again.
    func takePreloaded(from unit: UnitOfWork) throws -> Loaded? {
        guard let reservation = unit.takePreloaded(ReservationRecord.self, for: event.orderId) else { return nil }
        var stock: [String: StockLevel] = [:]
        var taken: [String] = []
        for sku in InventoryDecider.skus(for: event, reservation: reservation) {
            switch unit.takePreloaded(StockLevel.self, for: sku) {
            case .some(let level?): stock[sku] = level
            case .some(nil): break  // no such SKU
            case nil: taken.append(sku)
            }
        }
        stock.merge(try InventoryStore.stock(taken, on: unit.connection)) { _, fresh in fresh }
        return Loaded(reservation: reservation, stock: stock)
    }

    func decide(_ loaded: Loaded) -> Decided<InventoryTransition> {
        InventoryDecider.decide(loaded.reservation, stock: loaded.stock, on: event, now: EventEnvelope.nowUnixMs()).decided
    }

    func describe(_ loaded: Loaded) -> String {
        "reservation \(loaded.reservation?.state.rawValue ?? "none"), stock \(loaded.stock.sorted { $0.key < $1.key })"
    }

    func write(_ transition: InventoryTransition, in unit: UnitOfWork) throws -> Bool {
        try InventoryStore.write(transition.to, from: transition.from, in: unit)
    }

    func move(_ movements: [StockMovement], on connection: any SQLConnection) throws -> Bool {
        try InventoryStore.apply(movements, on: connection)
    }
}
