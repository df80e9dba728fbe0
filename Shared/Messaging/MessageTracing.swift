import Atomics
import EventSchema
import Foundation
import Kafka
import Logging
import Persistence
import Tracing

/// The spans of the messaging runtime, written against the swift-distributed-tracing API (the
/// exporter is the process's business: `Observability.TracingBootstrap`).
///
/// Off by default, and then nothing here runs: the relay, the consumer and `unitOfWork` check
/// ``isEnabled`` (one relaxed atomic load) and skip every span, header rewrite and allocation.
/// A process turns it on once, after bootstrapping a tracer.
///
/// The trace context travels as the W3C `traceparent` of the envelope, which `UnitOfWork.emit`
/// writes into the outbox row's headers: it survives a relay restart, and the relay only swaps it
/// for its own publish span's context on the way out. One order's trace:
///
/// ```
/// HTTP POST /orders (server, Order)
/// └ db.transaction (client, Order: the unit of work that wrote the order and its OrderPlaced row)
///   └ send orders.v1 (producer, Order's relay: outbox wait as an attribute; ends on the broker's ack)
///     └ process orders.v1 (consumer, Inventory / Notification: broker wait as an attribute)
///       ├ handle OrderPlaced (internal: the decision; every event it emits is its child)
///       │ └ send inventory.v1 (producer, Inventory's relay) └ process inventory.v1 (Order, Payment) …
///       └ db.transaction (client: the batch transaction that committed it)
/// ```
public enum MessageTracing {
    private static let enabled = ManagedAtomic<Bool>(false)

    /// Whether spans are made. Read on every batch and publish: a relaxed load.
    public static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Turns the runtime's spans on (or off, for tests): after `InstrumentationSystem.bootstrap`.
    public static func setEnabled(_ on: Bool) { enabled.store(on, ordering: .relaxed) }

    // MARK: - the traceparent

    /// The W3C `traceparent` of `context`'s span, as the bootstrapped tracer propagates it; nil
    /// when the context holds no span.
    public static func traceparent(of context: InstrumentationContext) -> String? {
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        guard let value = carrier[EventEnvelope.Header.traceparent], EventEnvelope.isValidTraceparent(value) else { return nil }
        return value
    }

    /// The context a `traceparent` names (a remote parent), or a top-level context without one.
    public static func context(traceparent: String?) -> InstrumentationContext {
        var context = InstrumentationContext.topLevel
        if let traceparent {
            InstrumentationSystem.instrument.extract([EventEnvelope.Header.traceparent: traceparent], into: &context,
                                                     using: DictionaryExtractor())
        }
        return context
    }

    /// Trace id and span id of a `traceparent` (`00-<trace>-<span>-<flags>`), for log metadata.
    public static func ids(of traceparent: String) -> (traceId: Substring, spanId: Substring)? {
        let parts = traceparent.split(separator: "-")
        guard parts.count >= 4, parts[1].count == 32, parts[2].count == 16 else { return nil }
        return (parts[1], parts[2])
    }

    /// A span of its own, child of the trace `traceparent` names (a deadline sweeper continuing
    /// an order's trace): nil when tracing is off. End it with `end()`.
    public static func span(_ name: String, continuing traceparent: String?, kind: SpanKind = .internal,
                            attributes: [String: String] = [:]) -> (any Span)? {
        guard isEnabled else { return nil }
        let span = startSpan(name, context: context(traceparent: traceparent), ofKind: kind)
        for (key, value) in attributes { span.attributes[key] = value }
        return span
    }

    /// The W3C `traceparent` of `span`.
    public static func traceparent(of span: any Span) -> String? { traceparent(of: span.context) }

    /// A `db.transaction` span, child of the task's current span; nil outside any span (a
    /// periodic job's transaction is not a trace of its own).
    static func transactionSpan(_ dialect: SQLDialect) -> (any Span)? {
        guard let current = InstrumentationContext.current, traceparent(of: current) != nil else { return nil }
        let span = startSpan("db.transaction", context: current, ofKind: .client)
        span.attributes["db.system"] = dialect == .postgres ? "postgresql" : "sqlite"
        return span
    }

    // MARK: - clocks and attributes

    /// A tracer instant from the wall clock in microseconds (the outbox's `created_at_us`).
    struct WallInstant: TracerInstant {
        let nanosecondsSinceEpoch: UInt64
        init(micros: Int64) { nanosecondsSinceEpoch = UInt64(max(0, micros)) * 1000 }
        static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch }
    }

    static func text(_ header: [UInt8]?) -> String? {
        header.map { String(decoding: $0, as: UTF8.self) }
    }

    static func headerValue(_ headers: [KafkaHeader], _ name: String) -> String? {
        text(headers.last { $0.key == name }?.value)
    }

    static func millis(_ value: Int64) -> SpanAttribute { .int64(max(0, value)) }
}

extension Span {
    /// Ends the span with `error` recorded and an error status.
    public func failed(_ error: any Error) {
        recordError(error)
        setStatus(SpanStatus(code: .error, message: "\(error)"))
        end()
    }
}

// MARK: - carriers

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

// MARK: - the relay's producer spans

/// One row on its way to the broker: a producer span (OpenTelemetry messaging conventions,
/// `send <topic>`), child of the context the row was written in; the record carries the span's
/// own context in its `traceparent`, so consumers are the send's children.
struct PublishTrace: Sendable {
    let span: any Span

    /// The span and the message to hand to the producer (its `traceparent` replaced).
    static func start(_ message: OutgoingMessage, outboxId: Int64, createdAtMicros: Int64) -> (PublishTrace, OutgoingMessage) {
        let parent = MessageTracing.headerValue(message.headers, EventEnvelope.Header.traceparent)
        let span = startSpan("send \(message.topic)", context: MessageTracing.context(traceparent: parent), ofKind: .producer)
        let now = WallClock.nowMicros()
        span.updateAttributes { attributes in
            attributes["messaging.system"] = "kafka"
            attributes["messaging.operation.type"] = "send"
            attributes["messaging.operation.name"] = "send"
            attributes["messaging.destination.name"] = message.topic
            if let key = message.key { attributes["messaging.kafka.message.key"] = String(decoding: key, as: UTF8.self) }
            if let id = MessageTracing.headerValue(message.headers, EventEnvelope.Header.eventId) { attributes["messaging.message.id"] = id }
            if let type = MessageTracing.headerValue(message.headers, EventEnvelope.Header.eventType) { attributes["saga.event_type"] = type }
            attributes["saga.outbox.id"] = outboxId
            // How long the row waited in the outbox before this send (commit, scan, lease, backoff).
            attributes["saga.outbox.wait_ms"] = MessageTracing.millis((now - createdAtMicros) / 1000)
        }
        var traced = message
        if let own = MessageTracing.traceparent(of: span.context) {
            traced.headers.removeAll { $0.key == EventEnvelope.Header.traceparent }
            traced.headers.append(KafkaHeader(key: EventEnvelope.Header.traceparent, value: Array(own.utf8)))
        }
        return (PublishTrace(span: span), traced)
    }

    /// Ends the span on the delivery report: where the broker stored it, or why not.
    func end(_ result: Result<DeliveryReport, KafkaError>) {
        switch result {
        case .success(let report):
            span.updateAttributes { attributes in
                attributes["messaging.destination.partition.id"] = "\(report.partition)"
                attributes["messaging.kafka.offset"] = report.offset
            }
        case .failure(let error):
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: "\(error)"))
        }
        span.end()
    }
}

// MARK: - the consumer's spans

/// The spans of one polled batch: a consumer span per message (`process <topic>`, child of the
/// producer's context from the `traceparent` header), a span per handler call, and, once the
/// batch committed, a `db.transaction` span in each message's trace (one transaction serves
/// several orders' traces, so each gets its own copy of it, with the same times).
final class BatchTrace: Sendable {
    private let spans: [(any Span)?]

    init(_ prepared: [BatchProcessor.Prepared], group: String) {
        let nowMillis = WallClock.nowMillis()
        spans = prepared.map { item in
            let envelope: EventEnvelope
            switch item.content {
            case .event(let decoded): envelope = decoded.envelope
            case .invalid(_, _, let found?): envelope = found
            case .invalid, .unknownType, .notHandled: return nil
            }
            let message = item.message
            let span = startSpan("process \(message.topic)", context: MessageTracing.context(traceparent: envelope.traceparent),
                                 ofKind: .consumer)
            span.updateAttributes { attributes in
                attributes["messaging.system"] = "kafka"
                attributes["messaging.operation.type"] = "process"
                attributes["messaging.operation.name"] = "process"
                attributes["messaging.destination.name"] = message.topic
                attributes["messaging.destination.partition.id"] = "\(message.partition)"
                attributes["messaging.kafka.offset"] = message.offset
                attributes["messaging.consumer.group.name"] = group
                attributes["messaging.message.id"] = envelope.eventId.uuidString.lowercased()
                attributes["saga.order_id"] = envelope.orderId
                attributes["saga.event_type"] = envelope.eventType.rawValue
                attributes["saga.correlation_id"] = envelope.correlationId.uuidString.lowercased()
                if let sentMillis = message.timestampMs {
                    // The record's timestamp is the relay's send: before it the event waited in the
                    // producer's outbox, after it in the broker until this consumer polled it.
                    attributes["saga.outbox.wait_ms"] = MessageTracing.millis(sentMillis - envelope.producedAtUnixMs)
                    attributes["saga.broker.wait_ms"] = MessageTracing.millis(nowMillis - sentMillis)
                }
            }
            return span
        }
    }

    /// The logger of message `index`, with its consumer span's trace-id and span-id.
    func logger(_ index: Int, _ logger: Logger) -> Logger {
        guard let span = spans[index], let traceparent = MessageTracing.traceparent(of: span.context),
              let ids = MessageTracing.ids(of: traceparent) else { return logger }
        var logger = logger
        logger[metadataKey: "trace-id"] = "\(ids.traceId)"
        logger[metadataKey: "span-id"] = "\(ids.spanId)"
        return logger
    }

    /// A span for the handler's decision on message `index`; `unit` emits under it.
    func handling(_ index: Int, _ envelope: EventEnvelope, _ unit: UnitOfWork) -> (any Span)? {
        guard let parent = spans[index] else { return nil }
        let span = startSpan("handle \(envelope.eventType.rawValue)", context: parent.context, ofKind: .internal)
        unit.traceparent = MessageTracing.traceparent(of: span.context)
        return span
    }

    func handled(_ span: (any Span)?, _ outcome: HandlerOutcome, emittedBefore: Int, _ unit: UnitOfWork) {
        guard let span else { return }
        unit.traceparent = nil
        span.attributes["saga.decision"] = outcome == .applied ? "applied" : "ignored"
        span.attributes["saga.emitted"] = unit.emittedCount - emittedBefore
        span.end()
    }

    func failed(_ span: (any Span)?, _ error: any Error, _ unit: UnitOfWork) {
        guard let span else { return }
        unit.traceparent = nil
        span.failed(error)
    }

    /// Message `index` goes to the dead-letter topic instead of its handler.
    func deadLettered(_ index: Int, _ reason: String) {
        spans[index]?.setStatus(SpanStatus(code: .error, message: "dead-lettered: \(reason.prefix(200))"))
    }

    /// The batch committed: each message's trace gets the transaction's span (started at
    /// `startedAt`, wall-clock µs, the committing attempt's start), and its consumer span ends.
    func committed(startedAt: Int64, attempts: Int, dialect: SQLDialect) {
        let ended = WallClock.nowMicros()
        for span in spans {
            guard let span else { continue }
            let transaction = startSpan("db.transaction", context: span.context, ofKind: .client,
                                        at: MessageTracing.WallInstant(micros: startedAt))
            transaction.updateAttributes { attributes in
                attributes["db.system"] = dialect == .postgres ? "postgresql" : "sqlite"
                attributes["db.operation.name"] = "COMMIT"
                attributes["db.batch.size"] = spans.count
                attributes["saga.transaction.attempts"] = attempts
            }
            transaction.end(at: MessageTracing.WallInstant(micros: ended))
            span.end()
        }
    }

    /// The batch was given up (shutdown while retrying): its spans end unfinished.
    func abandoned() {
        for span in spans.compactMap({ $0 }) {
            span.setStatus(SpanStatus(code: .error, message: "abandoned at shutdown; redelivered later"))
            span.end()
        }
    }
}
