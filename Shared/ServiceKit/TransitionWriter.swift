import Deciding
import EventSchema
import Messaging
import Persistence

/// One service's part of a state change: what it loads, how it decides, how its store writes.
/// `TransitionWriter` does the rest, the same way for every service and every input (a consumed
/// event, an HTTP command, a deadline, a delivery).
public protocol TransitionStep {
    associatedtype Loaded
    associatedtype Transition: StateTransition
    /// What changes, for errors and logs ("reservation of o-1").
    var subject: String { get }
    /// Reads, in the transaction, what the decision needs.
    func load(on connection: any SQLConnection) throws -> Loaded
    /// What the batch's prelude read for this step (`UnitOfWork.preload`), taken for the first
    /// decision, reading whatever was not preloaded; nil when nothing was (then `load` reads).
    func takePreloaded(from unit: UnitOfWork) throws -> Loaded?
    func decide(_ loaded: Loaded) throws -> Decided<Transition>
    /// The state a decision was made on, for the error of a write that kept losing or drifted.
    func describe(_ loaded: Loaded) -> String
    /// The transition's own row, conditional on the state it was decided from (a new row through
    /// `UnitOfWork.insertNew`, an `UPDATE … WHERE state = from`): false when another writer
    /// changed it first.
    func write(_ transition: Transition, in unit: UnitOfWork) throws -> Bool
    /// A transition's movements of shared resources, each conditional on it still allowing the
    /// movement: true when all of them moved (called only with movements to make).
    func move(_ movements: [Transition.Movement], on connection: any SQLConnection) throws -> Bool
    /// After the events are in the outbox: rows that keep their envelopes (Order's history).
    func emitted(_ transition: Transition, as envelopes: [EventEnvelope], on unit: UnitOfWork) throws
    /// The input changed nothing: whatever records it anyway (Order's history).
    func ignored(_ loaded: Loaded, on unit: UnitOfWork) throws
}

extension TransitionStep {
    public func takePreloaded(from unit: UnitOfWork) throws -> Loaded? { nil }
    public func describe(_ loaded: Loaded) -> String { "\(loaded)" }
    public func emitted(_ transition: Transition, as envelopes: [EventEnvelope], on unit: UnitOfWork) throws {}
    public func ignored(_ loaded: Loaded, on unit: UnitOfWork) throws {}
}

extension TransitionStep where Transition.Movement == NoMovement {
    public func move(_ movements: [NoMovement], on connection: any SQLConnection) throws -> Bool { movements.isEmpty }
}

/// What a step's input came to.
public enum Written<Transition> {
    /// Written, its events in the outbox as `envelopes`.
    case applied(Transition, envelopes: [EventEnvelope])
    case ignored(reason: String)
}

/// The one write path of every service: load, decide, write the transition conditionally,
/// move the shared resources, emit the events through the outbox; on a lost race, load and
/// decide again in the same transaction.
///
/// A row write that matches nothing means another writer got there first (on PostgreSQL:
/// another instance, or the sweeper, touching the same order): the next decision sees what it
/// did. A movement that no longer applies although the decision was made on its locked row
/// means the state drifted (a bug): retrying would fail the same way forever, so the input is
/// rejected for good (a consumed event is dead-lettered) with the state that refused it.
public enum TransitionWriter {
    /// Decisions per input before it is rejected as changing under the writer.
    public static let attempts = 3

    /// - Parameter preloaded: what the caller read already (rows it claimed); else what the batch's
    ///   prelude read for the step, if anything. The first decision is made on it, a lost race
    ///   reads again.
    public static func write<Step: TransitionStep>(
        _ step: Step, causedBy cause: EventCause?, preloaded: Step.Loaded? = nil, unit: UnitOfWork
    ) throws -> Written<Step.Transition> {
        let connection = unit.connection
        var lastState = ""
        var preloaded = try preloaded ?? step.takePreloaded(from: unit)
        for _ in 0..<attempts {
            let loaded = try preloaded.take() ?? step.load(on: connection)
            switch try step.decide(loaded) {
            case .ignored(let reason):
                try step.ignored(loaded, on: unit)
                return .ignored(reason: reason)
            case .rejected(let reason):
                throw HandlerError.permanent(reason)
            case .transition(let transition):
                guard try step.write(transition, in: unit) else {
                    lastState = step.describe(loaded)
                    continue
                }
                if !transition.movements.isEmpty, try !step.move(transition.movements, on: connection) {
                    let movements = transition.movements.map(\.description).joined(separator: ", ")
                    throw HandlerError.permanent("\(step.subject): \(movements) no longer applies although the decision was made on the locked state \(step.describe(loaded)): the state drifted")
                }
                let envelopes = try transition.events.map { try unit.emit($0, causedBy: cause) }
                try step.emitted(transition, as: envelopes, on: unit)
                return .applied(transition, envelopes: envelopes)
            }
        }
        throw HandlerError.permanent("\(step.subject) kept changing under the handler (\(attempts) decisions); last state read: \(lastState)")
    }

    /// A consumed event through `step`, inside the batch transaction.
    public static func handle<Step: TransitionStep>(_ event: InboundEvent, with step: Step, unit: UnitOfWork) throws -> HandlerOutcome {
        switch try write(step, causedBy: event.envelope.cause, unit: unit) {
        case .applied(let transition, _):
            event.debug("\(step.subject) written", metadata: ["transition": "\(transition)"])
            return .applied
        case .ignored(let reason):
            event.debug("ignored", metadata: ["reason": "\(reason)"])
            return .ignored
        }
    }
}

extension Written: Sendable where Transition: Sendable {}
