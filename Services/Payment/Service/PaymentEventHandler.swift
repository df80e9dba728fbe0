import EventSchema
import Messaging
import PaymentCore
import ServiceKit

/// What Payment does with inventory.v1 and orders.v1: charges once on StockReserved (or fails
/// with a reason), refunds once on OrderCancelled of a charged order, and never charges an
/// order it already saw cancelled.
enum PaymentEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        guard PaymentDecider.handledEvents.contains(event.envelope.eventType) else { return .ignored }
        let connection = unit.connection
        let payment = try PaymentStore.payment(event.envelope.orderId, on: connection)
        let account = try PaymentDecider.customerId(for: event.event, payment: payment).flatMap {
            try PaymentStore.account($0, on: connection)
        }
        switch PaymentDecider.decide(payment, account: account, on: event.event, now: EventEnvelope.nowUnixMs()) {
        case .ignored(let reason):
            event.debug("ignored", metadata: ["reason": "\(reason)"])
            return .ignored
        case .rejected(let rejection):
            throw HandlerError.permanent(rejection.description)
        case .transition(let transition):
            try ConditionalWrites.apply(
                "payment of \(transition.to.orderId)", write: { try PaymentStore.write(transition.to, from: transition.from, on: connection) },
                movements: transition.movements, move: { try PaymentStore.apply($0, on: connection) },
                events: transition.events, causedBy: event.envelope, unit: unit)
            event.debug("payment \(transition.to.state)")
            return .applied
        }
    }
}
