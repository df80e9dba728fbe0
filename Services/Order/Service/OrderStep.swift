import Deciding
import EventSchema
import Messaging
import OrderCore
import Persistence
import ServiceKit

/// Order's part of the write path, for each of its inputs: a placement (HTTP), an answer of
/// Inventory or Payment (consumed), the saga deadline (the sweeper).
struct OrderStep: TransitionStep {
    enum Input {
        case place(PlaceOrder, prices: PriceList, policy: OrderPolicy, now: Int64)
        case event(InboundEvent)
        case deadline(now: Int64)
    }

    let orderId: String
    let input: Input

    var subject: String { "order \(orderId)" }

    func load(on connection: any SQLConnection) throws -> OrderRecord? {
        if case .place = input { return nil }  // a new order: its id is checked unique by its INSERT
        return try OrderStore.load(orderId, on: connection)
    }

    /// A consumed event's order as the batch read it, taken by the first decision on the order.
    func takePreloaded(from unit: UnitOfWork) -> OrderRecord?? {
        guard case .event = input else { return nil }
        return unit.takePreloaded(OrderRecord.self, for: orderId)
    }

    func decide(_ order: OrderRecord?) throws -> Decided<OrderTransition> {
        switch input {
        case let .place(command, prices, policy, now):
            return .transition(try OrderDecider.place(command, prices: prices, policy: policy, now: now).mapError(\.problem).get())
        case .event(let event):
            return OrderDecider.decide(order, on: event.event, now: EventEnvelope.nowUnixMs()).decided
        case .deadline(let now):
            guard let order else { return .ignored(reason: "order \(orderId) is gone") }
            return OrderDecider.timeout(order, now: now).decided
        }
    }

    func describe(_ order: OrderRecord?) -> String { "order \(order?.status.rawValue ?? "none")" }

    /// A new order's row is written in `emitted`: it keeps its first event's envelope, whose
    /// correlation id and trace context the order's later events outside any consumed event
    /// (the sweeper's) continue.
    func write(_ transition: OrderTransition, in unit: UnitOfWork) throws -> Bool {
        guard let from = transition.from else { return true }
        return try OrderStore.update(transition.to, from: from, on: unit.connection)
    }

    func emitted(_ transition: OrderTransition, as envelopes: [EventEnvelope], on unit: UnitOfWork) throws {
        if transition.from == nil {
            OrderStore.insert(transition.to, saga: envelopes.first, on: unit)
        }
        for (event, envelope) in zip(transition.events, envelopes) {
            OrderStore.recordHistory(orderId: orderId, envelope: envelope, topic: event.topic.name, on: unit)
        }
        recordConsumed(on: unit)
    }

    /// Every event an order sees goes into its history, also those that change nothing.
    func ignored(_ order: OrderRecord?, on unit: UnitOfWork) throws {
        if order != nil { recordConsumed(on: unit) }
    }

    private func recordConsumed(on unit: UnitOfWork) {
        guard case .event(let event) = input else { return }
        OrderStore.recordHistory(orderId: orderId, envelope: event.envelope, topic: event.topic, on: unit)
    }
}
