import Deciding
import EventSchema

/// What Payment does with one event. A transition is persisted in one local
/// transaction: the payment row (`from == nil`: INSERT, else
/// `UPDATE … WHERE order_id = ? AND state = from`), the account movements (each a
/// conditional update, see ``AccountMovement``) and the outbox rows of `events`.
public enum PaymentDecision: Sendable, Hashable {
    case transition(PaymentTransition)
    /// Nothing to do (duplicate, nothing charged, not for this service); commit the offset.
    case ignored(PaymentIgnoreReason)
    /// The input contradicts what Payment knows: dead-letter it.
    case rejected(PaymentRejection)

    public var transition: PaymentTransition? {
        if case let .transition(t) = self { t } else { nil }
    }
}

public struct PaymentTransition: StateTransition, Hashable {
    public let from: PaymentState?
    public let to: PaymentRecord
    public let movements: [AccountMovement]
    public let events: [SagaEvent]
}

public enum PaymentIgnoreReason: Sendable, Hashable, CustomStringConvertible {
    /// StockReserved again, or OrderCancelled again after the refund.
    case duplicate(EventType, state: PaymentState)
    /// OrderCancelled when nothing was charged (FAILED, or already CANCELLED).
    case nothingCharged(EventType, state: PaymentState)
    case notHandled(EventType)

    public var description: String {
        switch self {
        case let .duplicate(type, state): "duplicate \(type): payment is already \(state)"
        case let .nothingCharged(type, state): "\(type): nothing charged for the order (\(state))"
        case let .notHandled(type): "\(type) is not handled by the Payment service"
        }
    }
}

public enum PaymentRejection: Error, Sendable, Hashable, CustomStringConvertible {
    case orderIdMismatch(record: String, event: String)
    /// The account passed in is not the customer's (a bug in the caller).
    case accountMismatch(expected: String, found: String)
    /// A charge to refund, but the customer's account is gone.
    case accountMissing(customerId: String)

    public var description: String {
        switch self {
        case let .orderIdMismatch(record, event): "event for order \(event) applied to payment of \(record)"
        case let .accountMismatch(expected, found): "account of \(found) given for customer \(expected)"
        case let .accountMissing(id): "no account for customer \(id), cannot refund"
        }
    }
}

extension PaymentDecision {
    /// This decision as the write path takes it (`TransitionWriter`).
    public var decided: Decided<PaymentTransition> {
        switch self {
        case .transition(let transition): .transition(transition)
        case .ignored(let reason): .ignored(reason: reason.description)
        case .rejected(let rejection): .rejected(reason: rejection.description)
        }
    }
}
