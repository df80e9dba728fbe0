import EventSchema
import InventoryCore
import Messaging
import ServiceKit

/// What Inventory does with orders.v1 and payments.v1: reserves all lines of an OrderPlaced
/// or rejects it; sells on OrderConfirmed; releases on PaymentFailed and OrderCancelled.
enum InventoryEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        guard InventoryDecider.handledEvents.contains(event.envelope.eventType) else { return .ignored }
        let connection = unit.connection
        let reservation = try InventoryStore.reservation(event.envelope.orderId, on: connection)
        let stock = try InventoryStore.stock(InventoryDecider.skus(for: event.event, reservation: reservation), on: connection)
        switch InventoryDecider.decide(reservation, stock: stock, on: event.event, now: EventEnvelope.nowUnixMs()) {
        case .ignored(let reason):
            event.debug("ignored", metadata: ["reason": "\(reason)"])
            return .ignored
        case .rejected(let rejection):
            throw HandlerError.permanent(rejection.description)
        case .transition(let transition):
            // Stale reads cannot happen under the row locks (PostgreSQL) or the single writer
            // (SQLite); if a guard still fails, the batch rolls back and decides again.
            try ConditionalWrites.apply(
                "reservation of \(transition.to.orderId)", write: { try InventoryStore.write(transition.to, from: transition.from, on: connection) },
                movements: transition.movements, move: { try InventoryStore.apply($0, on: connection) },
                events: transition.events, causedBy: event.envelope, unit: unit)
            event.debug("reservation \(transition.to.state)")
            return .applied
        }
    }
}
