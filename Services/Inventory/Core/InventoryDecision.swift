import Deciding
import EventSchema

/// What Inventory does with one event. A transition is persisted in one local
/// transaction: the reservation row (`from == nil`: INSERT, else
/// `UPDATE … WHERE order_id = ? AND state = from`), the stock movements (each a
/// conditional update, see ``StockMovement``) and the outbox rows of `events`.
public enum InventoryDecision: Sendable, Hashable {
    case transition(InventoryTransition)
    /// Nothing to do (duplicate, nothing held, not for this service); commit the offset.
    case ignored(InventoryIgnoreReason)
    /// The event contradicts what Inventory knows: dead-letter it.
    case rejected(InventoryRejection)

    public var transition: InventoryTransition? {
        if case let .transition(t) = self { t } else { nil }
    }
}

public struct InventoryTransition: StateTransition, Hashable {
    public let from: ReservationState?
    public let to: ReservationRecord
    public let movements: [StockMovement]
    public let events: [SagaEvent]
}

public enum InventoryIgnoreReason: Sendable, Hashable, CustomStringConvertible {
    /// OrderPlaced or OrderConfirmed again: already answered.
    case duplicate(EventType, state: ReservationState)
    /// A release (PaymentFailed, OrderCancelled) when nothing is held: already
    /// released, rejected, or voided.
    case nothingHeld(EventType, state: ReservationState)
    case notHandled(EventType)

    public var description: String {
        switch self {
        case let .duplicate(type, state): "duplicate \(type): reservation is already \(state)"
        case let .nothingHeld(type, state): "\(type): nothing held for the order (\(state))"
        case let .notHandled(type): "\(type) is not handled by the Inventory service"
        }
    }
}

public enum InventoryRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// OrderConfirmed for an order with no live reservation: Order confirms only
    /// after a charge, and Payment charges only after StockReserved.
    case confirmedWithoutReservation(orderId: String, state: ReservationState?)
    /// A release for a sold order: a confirmed order is never cancelled, and its
    /// payment never fails.
    case releaseAfterSale(EventType, orderId: String)
    case orderIdMismatch(record: String, event: String)
    /// OrderPlaced with SKUs Inventory has no stock row for: Order's catalog knows them, so the
    /// two catalogs disagree (fix them, then replay the dead letter).
    case unknownSkus(orderId: String, skus: [String])

    public var description: String {
        switch self {
        case let .confirmedWithoutReservation(id, state):
            "order \(id) confirmed but its reservation is \(state.map(\.rawValue) ?? "absent")"
        case let .releaseAfterSale(type, id): "\(type) for order \(id), whose stock is already sold"
        case let .orderIdMismatch(record, event): "event for order \(event) applied to reservation of \(record)"
        case let .unknownSkus(id, skus):
            "order \(id) has SKUs this Inventory has no stock for: \(skus.joined(separator: ", ")) (add them to the seed catalog, restart Inventory, replay this dead letter)"
        }
    }
}

extension InventoryDecision {
    /// This decision as the write path takes it (`TransitionWriter`).
    public var decided: Decided<InventoryTransition> {
        switch self {
        case .transition(let transition): .transition(transition)
        case .ignored(let reason): .ignored(reason: reason.description)
        case .rejected(let rejection): .rejected(reason: rejection.description)
        }
    }
}
