import EventSchema
import Kafka
import Logging

/// A decoded event handed to a service's handler, with where it was read from.
public struct InboundEvent: Sendable {
    public let decoded: DecodedEvent
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let consumerGroup: String
    private let baseLogger: Logger

    init(decoded: DecodedEvent, message: ConsumedMessage, consumerGroup: String, logger: Logger) {
        self.decoded = decoded
        self.topic = message.topic
        self.partition = message.partition
        self.offset = message.offset
        self.consumerGroup = consumerGroup
        self.baseLogger = logger
    }

    public var envelope: EventEnvelope { decoded.envelope }
    public var event: SagaEvent { decoded.event }

    /// The runtime's logger with order-id, event-id, event-type and correlation-id metadata
    /// (built on access: handlers that do not log pay nothing).
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "order-id"] = "\(envelope.orderId)"
        logger[metadataKey: "event-id"] = "\(envelope.eventId.uuidString.lowercased())"
        logger[metadataKey: "event-type"] = "\(envelope.eventType.rawValue)"
        logger[metadataKey: "correlation-id"] = "\(envelope.correlationId.uuidString.lowercased())"
        return logger
    }

    /// A debug line with the event's metadata; the metadata is built only when debug logging is
    /// on, since handlers call this for every event.
    public func debug(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata? = nil) {
        guard baseLogger.logLevel <= .debug else { return }
        logger.debug(message(), metadata: metadata())
    }
}

/// What a handler did with an event. Either way the event is recorded in the inbox and its
/// offset stored, in the same transaction as the handler's changes.
public enum HandlerOutcome: Sendable, Equatable {
    /// The handler changed state (and maybe emitted events).
    case applied
    /// Nothing to do for this event here (a type this service does not act on, a state that
    /// already moved on).
    case ignored
}

/// A service's event handler. It runs synchronously inside the batch transaction, on the
/// database's thread: change your tables through `unit.connection`, emit through `unit.emit`.
///
/// To reject an event for good, throw `HandlerError.permanent` (or let a `SQLError.permanent`
/// escape): the batch is rolled back and replayed without that event, which goes to
/// `deadletter.v1`, so none of its partial changes survive. Throw `HandlerError.transient`
/// (or let `SQLError.transient` escape) to roll back and retry the batch later.
public typealias EventHandler = @Sendable (_ event: InboundEvent, _ unit: UnitOfWork) throws -> HandlerOutcome

/// Runs once per batch transaction before the handlers, with the batch's events (those that will
/// be handled, in offset order per partition): where a service locks the shared rows the batch
/// will touch (stock, accounts) in one global order, so that two instances never deadlock on them.
public typealias BatchPrelude = @Sendable (_ events: [InboundEvent], _ unit: UnitOfWork) throws -> Void
