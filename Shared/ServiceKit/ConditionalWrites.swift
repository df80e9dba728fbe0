import EventSchema
import Messaging

/// The write side of a decided transition, and the loop that decides again when a write finds
/// the state changed.
///
/// A transition is written as: the order's row, conditionally on the state it was decided from
/// (an INSERT that does nothing if the row appeared meanwhile, an UPDATE `... WHERE state = ?`),
/// then each movement of a shared resource (stock, a balance) as a conditional update, then the
/// events. A row write that matches nothing means another writer got there first (on PostgreSQL:
/// another instance touching the same order first): load and decide again, in the same
/// transaction. A movement that no longer applies although its row was locked and the decision
/// was made on it means the state drifted (a bug): retrying would fail the same way forever, so
/// the event is rejected for good and dead-lettered with the state that refused it.
public enum ConditionalWrites {
    /// One decision and its write.
    public enum Attempt {
        /// Written (or nothing to write).
        case done(HandlerOutcome)
        /// The row changed since it was read; `state` describes what was read, for the error.
        case lostRace(state: String)
    }

    /// Runs `attempt` until it is done, at most `attempts` times; then the event is rejected
    /// (dead letter) with the last state read.
    public static func decide(_ what: String, attempts: Int = 3, _ attempt: () throws -> Attempt) throws -> HandlerOutcome {
        var lastState = ""
        for _ in 0..<attempts {
            switch try attempt() {
            case .done(let outcome): return outcome
            case .lostRace(let state): lastState = state
            }
        }
        throw HandlerError.permanent("\(what) kept changing under the handler (\(attempts) decisions); last state read: \(lastState)")
    }

    /// Writes a decided transition; false when the row write matched nothing (decide again).
    public static func apply<Movement: CustomStringConvertible>(
        _ what: String, state: @autoclosure () -> String, write: () throws -> Bool,
        movements: [Movement], move: (Movement) throws -> Bool,
        events: [SagaEvent], causedBy cause: EventEnvelope, unit: UnitOfWork
    ) throws -> Bool {
        guard try write() else { return false }
        for movement in movements where try !move(movement) {
            throw HandlerError.permanent("\(what): \(movement) no longer applies although the decision was made on the locked state \(state()): the state drifted")
        }
        for event in events { try unit.emit(event, causedBy: cause) }
        return true
    }
}
