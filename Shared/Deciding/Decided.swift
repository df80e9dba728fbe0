import EventSchema

/// The contract between a service's pure decider and the one write path every service uses
/// (`TransitionWriter` in ServiceKit): a decision is a transition to write, an input that
/// changes nothing, or an input that contradicts what the service knows.
public enum Decided<Transition: StateTransition> {
    case transition(Transition)
    /// Nothing to write (a duplicate, a late event, a type the service does not act on).
    case ignored(reason: String)
    /// The input contradicts the stored state: dead-letter it, with `reason`.
    case rejected(reason: String)
}

/// A decided change of one order's state in one service: its row, the shared resources it
/// moves (stock, balances) and the events it emits through the outbox.
public protocol StateTransition: Sendable {
    /// A conditional change of a resource other orders share; `NoMovement` when there is none.
    associatedtype Movement: CustomStringConvertible & Sendable = NoMovement
    var movements: [Movement] { get }
    /// In the order they go to the outbox.
    var events: [SagaEvent] { get }
}

/// The movement of a transition that moves no shared resource.
public enum NoMovement: CustomStringConvertible, Sendable {
    public var description: String { switch self {} }
}

extension StateTransition where Movement == NoMovement {
    public var movements: [NoMovement] { [] }
}
