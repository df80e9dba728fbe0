import EventSchema
import InventoryCore
import Messaging
import Persistence
import ServiceKit

/// What Inventory does with orders.v1 and payments.v1: reserves all lines of an OrderPlaced
/// or rejects it; sells on OrderConfirmed; releases on PaymentFailed and OrderCancelled.
enum InventoryEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        guard InventoryDecider.handledEvents.contains(event.envelope.eventType) else { return .ignored }
        let connection = unit.connection
        let orderId = event.envelope.orderId
        return try ConditionalWrites.decide("reservation of \(orderId)") {
            let reservation = try InventoryStore.reservation(orderId, on: connection)
            let stock = try InventoryStore.stock(InventoryDecider.skus(for: event.event, reservation: reservation), on: connection)
            switch InventoryDecider.decide(reservation, stock: stock, on: event.event, now: EventEnvelope.nowUnixMs()) {
            case .ignored(let reason):
                event.debug("ignored", metadata: ["reason": "\(reason)"])
                return .done(.ignored)
            case .rejected(let rejection):
                throw HandlerError.permanent(rejection.description)
            case .transition(let transition):
                let state = "reservation \(reservation?.state.rawValue ?? "none"), stock \(stock.sorted { $0.key < $1.key })"
                guard try ConditionalWrites.apply(
                    "reservation of \(orderId)", state: state,
                    write: { try InventoryStore.write(transition.to, from: transition.from, on: connection) },
                    movements: transition.movements, move: { try InventoryStore.apply($0, on: connection) },
                    events: transition.events, causedBy: event.envelope, unit: unit) else { return .lostRace(state: state) }
                event.debug("reservation \(transition.to.state)")
                return .done(.applied)
            }
        }
    }

    /// Locks, before any handler runs, the stock rows every event of the batch will read or move,
    /// sorted by SKU across the whole batch: two instances (PostgreSQL) whose batches share SKUs
    /// then queue on them in one order instead of deadlocking. SQLite has one writer.
    static func lockStock(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        guard unit.connection.dialect == .postgres else { return }
        var skus = Set<String>()
        var reservedOrders: [String] = []
        for event in events where InventoryDecider.handledEvents.contains(event.envelope.eventType) {
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
