import EventSchema
import Messaging
import PaymentCore

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
            event.logger.debug("ignored", metadata: ["reason": "\(reason)"])
            return .ignored
        case .rejected(let rejection):
            throw HandlerError.permanent(rejection.description)
        case .transition(let transition):
            guard try PaymentStore.write(transition.to, from: transition.from, on: connection) else {
                throw HandlerError.transient("payment of \(transition.to.orderId) changed under the handler")
            }
            for movement in transition.movements where try !PaymentStore.apply(movement, on: connection) {
                throw HandlerError.transient("account \(movement.customerId) changed under the handler (\(movement))")
            }
            for outgoing in transition.events { try unit.emit(outgoing, causedBy: event.envelope) }
            event.logger.info("payment \(transition.to.state)")
            return .applied
        }
    }
}
