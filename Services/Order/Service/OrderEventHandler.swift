import EventSchema
import Messaging
import OrderCore
import ServiceKit

/// What Order does with inventory.v1 and payments.v1: ends PENDING orders (CONFIRMED on
/// PaymentCharged, CANCELLED on StockRejected / PaymentFailed / StockReleased) and emits the
/// terminal event. Every event an order sees goes into its history.
enum OrderEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        let orderId = event.envelope.orderId
        // A conditional update can lose to the sweeper on another connection (PostgreSQL,
        // several instances): decide again; the second decision sees the terminal state.
        return try ConditionalWrites.decide("order \(orderId)") {
            let order = try OrderStore.load(orderId, on: unit.connection)
            switch OrderDecider.decide(order, on: event.event, now: EventEnvelope.nowUnixMs()) {
            case .ignored(let reason):
                if order != nil { try recordSeen(event, unit) }
                if case .notHandled = reason { return .done(.ignored) }
                event.debug("ignored", metadata: ["reason": "\(reason)"])
                return .done(.ignored)
            case .rejected(let rejection):
                throw HandlerError.permanent(rejection.description)
            case .transition(let transition):
                guard try OrderTransitionWriter.apply(transition, causedBy: event.envelope, unit: unit) != nil else {
                    return .lostRace(state: "order \(order?.status.rawValue ?? "none")")
                }
                try recordSeen(event, unit)
                event.debug("order \(transition.to.status)", metadata: [
                    "reason": "\(transition.to.cancelReason?.rawValue ?? "-")"])
                return .done(.applied)
            }
        }
    }

    private static func recordSeen(_ event: InboundEvent, _ unit: UnitOfWork) throws {
        try OrderStore.recordHistory(orderId: event.envelope.orderId, envelope: event.envelope, topic: event.topic, on: unit.connection)
    }
}
