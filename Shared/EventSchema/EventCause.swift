import Foundation

/// What a new event inherits from what caused it: the causing event's id (causation), the
/// saga's correlation id and the trace context to continue.
///
/// A consumed event is a cause (`envelope.cause`); so is a saga continued without one (the
/// deadline sweeper's timeout: correlation and trace kept with the order, no causing event), or
/// a consumed event remembered by its ids only (a notification delivered after the batch that
/// recorded it). A saga's first event has none.
public struct EventCause: Sendable, Hashable {
    /// The causing event; nil when the saga goes on without one (a timeout).
    public var eventId: UUID?
    /// nil: the new event starts a saga, and its own id becomes the correlation id.
    public var correlationId: UUID?
    public var traceparent: String?

    public init(eventId: UUID?, correlationId: UUID?, traceparent: String?) {
        self.eventId = eventId
        self.correlationId = correlationId
        self.traceparent = traceparent
    }

    /// The same cause, continuing the trace from `traceparent` (a span of the handler's own) if given.
    public func continuing(_ traceparent: String?) -> EventCause {
        var cause = self
        if let traceparent { cause.traceparent = traceparent }
        return cause
    }
}

extension EventEnvelope {
    /// This event as the cause of the events its handling emits.
    public var cause: EventCause {
        EventCause(eventId: eventId, correlationId: correlationId, traceparent: traceparent)
    }
}
