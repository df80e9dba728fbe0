import Messaging
import ServiceKit

/// What Order does with inventory.v1 and payments.v1: ends PENDING orders (CONFIRMED on
/// PaymentCharged, CANCELLED on StockRejected / PaymentFailed / StockReleased) and emits the
/// terminal event. Every event an order sees goes into its history, so the runtime hands it
/// every event of its topics (`OrderDecider.handledEvents` are those that change an order).
/// A conditional update can lose to the sweeper on another connection (PostgreSQL, several
/// instances): the write path decides again, and the second decision sees the terminal state.
enum OrderEventHandler {
    static func handle(_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome {
        try TransitionWriter.handle(event, with: OrderStep(orderId: event.envelope.orderId, input: .event(event)), unit: unit)
    }

    /// Before any handler runs: reads the orders of the batch in one statement and keeps them for
    /// the decisions. Safe to keep: their writers (the sweeper too) take the order's sequence rows
    /// first, as the batch did.
    static func prepare(_ events: [InboundEvent], _ unit: UnitOfWork) throws {
        let orderIds = events.map(\.envelope.orderId)
        unit.preload(try OrderStore.orders(orderIds, on: unit.connection), for: orderIds)
    }
}
