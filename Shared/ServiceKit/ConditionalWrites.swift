import EventSchema
import Messaging

/// The write side of a decided transition: the order's row written conditionally on the
/// state it was decided from, then each movement of a shared resource (stock, a balance) as a
/// conditional update, then the events. A write that matches no row means the decision was made
/// on state that changed meanwhile: the batch rolls back (transient error) and decides again.
public enum ConditionalWrites {
    public static func apply<Movement: CustomStringConvertible>(
        _ what: String, write: () throws -> Bool,
        movements: [Movement], move: (Movement) throws -> Bool,
        events: [SagaEvent], causedBy cause: EventEnvelope, unit: UnitOfWork
    ) throws {
        guard try write() else { throw HandlerError.transient("\(what) changed under the handler") }
        for movement in movements where try !move(movement) {
            throw HandlerError.transient("\(movement) no longer applies: the row changed under the handler")
        }
        for event in events { try unit.emit(event, causedBy: cause) }
    }
}
