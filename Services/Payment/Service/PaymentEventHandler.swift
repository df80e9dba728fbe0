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
        let orderId = event.envelope.orderId
        return try ConditionalWrites.decide("payment of \(orderId)") {
            let payment = try PaymentStore.payment(orderId, on: connection)
            let account = try PaymentDecider.customerId(for: event.event, payment: payment).flatMap {
                try PaymentStore.account($0, on: connection)
            }
            switch PaymentDecider.decide(payment, account: account, on: event.event, now: EventEnvelope.nowUnixMs()) {
            case .ignored(let reason):
                event.debug("ignored", metadata: ["reason": "\(reason)"])
                return .done(.ignored)
            case .rejected(let rejection):
                throw HandlerError.permanent(rejection.description)
            case .transition(let transition):
                let state = "payment \(payment?.state.rawValue ?? "none"), account \(account.map { "\($0.customerId) balance \($0.balance) blocked \($0.blocked)" } ?? "none")"
                guard try ConditionalWrites.apply(
                    "payment of \(orderId)", state: state,
                    write: { try PaymentStore.write(transition.to, from: transition.from, on: connection) },
                    movements: transition.movements, move: { try PaymentStore.apply($0, on: connection) },
                    events: transition.events, causedBy: event.envelope, unit: unit) else { return .lostRace(state: state) }
                event.debug("payment \(transition.to.state)")
                return .done(.applied)
            }
        }
    }

    /// Locks, before any handler runs, the accounts the batch's events concern, sorted by
    /// customer across the whole batch (PostgreSQL; SQLite has one writer): two instances whose
    /// batches share customers queue on them in one order instead of deadlocking.
    static func lockAccounts(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        guard unit.connection.dialect == .postgres else { return }
        let customers = Set(events.compactMap { PaymentDecider.customerId(for: $0.event, payment: nil) })
        try PaymentStore.lockAccounts(customers.sorted(), on: unit.connection)
    }
}
