import Deciding
import EventSchema

/// What the Order service does with one input. The service persists a
/// transition as one conditional write plus the outbox rows of `events`:
/// `from == nil` is an INSERT, otherwise `UPDATE orders … WHERE order_id = ? AND status = from`.
/// An update that matches no row lost a race: reload and decide again.
public enum OrderDecision: Sendable, Hashable {
    case transition(OrderTransition)
    /// Nothing to do (duplicate, late, not for this service); commit the offset.
    case ignored(OrderIgnoreReason)
    /// The input contradicts what this service knows: dead-letter it.
    case rejected(OrderRejection)

    public var transition: OrderTransition? {
        if case let .transition(t) = self { t } else { nil }
    }
}

public struct OrderTransition: StateTransition, Hashable {
    /// The stored status the write is conditional on; `nil` for a new order.
    public let from: OrderStatus?
    public let to: OrderRecord
    /// Events for the outbox, in order.
    public let events: [SagaEvent]
}

public enum OrderIgnoreReason: Sendable, Hashable, CustomStringConvertible {
    /// The event that caused the current state, delivered again.
    case duplicate(EventType, status: OrderStatus)
    /// The order already ended; the event changes nothing (the other services
    /// act on the terminal event, e.g. Payment refunds a late charge on OrderCancelled).
    case lateAfterTerminal(EventType, status: OrderStatus)
    /// An event the Order service does not act on (it only reacts to
    /// StockRejected, StockReleased, PaymentCharged and PaymentFailed).
    case notHandled(EventType)
    /// The sweeper's timeout for an order that already ended.
    case alreadyTerminal(OrderStatus)
    /// The sweeper fired before the deadline (clock skew, early poll).
    case deadlineNotReached(deadlineUnixMs: Int64, nowUnixMs: Int64)

    public var description: String {
        switch self {
        case let .duplicate(type, status): "duplicate \(type): order is already \(status)"
        case let .lateAfterTerminal(type, status): "late \(type) ignored: order is already \(status)"
        case let .notHandled(type): "\(type) is not handled by the Order service"
        case let .alreadyTerminal(status): "order is already \(status)"
        case let .deadlineNotReached(deadline, now): "deadline \(deadline) not reached at \(now)"
        }
    }
}

public enum OrderRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// An event for an order this service never placed.
    case unknownOrder(orderId: String)
    /// The event's order ID differs from the record it was matched with (a bug in the caller).
    case orderIdMismatch(record: String, event: String)
    /// A charge whose amount is not the order total. The order stays PENDING, times
    /// out, and Payment refunds the charge on OrderCancelled.
    case chargeDoesNotMatchTotal(total: Saga_V1_Money, charged: Saga_V1_Money)

    public var description: String {
        switch self {
        case let .unknownOrder(id): "no order \(id)"
        case let .orderIdMismatch(record, event): "event for order \(event) applied to order \(record)"
        case let .chargeDoesNotMatchTotal(total, charged):
            "charged \(charged.formatted) but the order total is \(total.formatted)"
        }
    }
}

extension OrderDecision {
    /// This decision as the write path takes it (`TransitionWriter`).
    public var decided: Decided<OrderTransition> {
        switch self {
        case .transition(let transition): .transition(transition)
        case .ignored(let reason): .ignored(reason: reason.description)
        case .rejected(let rejection): .rejected(reason: rejection.description)
        }
    }
}
