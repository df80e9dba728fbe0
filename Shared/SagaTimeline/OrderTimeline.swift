import EventSchema
import Foundation
import Kafka

/// The path of one order through the saga, from its records alone: every event of the order on
/// every topic, in the order they were produced, with where they waited.
///
/// Per event: `produced-at` (written to the producer's outbox, from the envelope); outbox wait
/// (produced-at → the record's timestamp, which the relay's producer stamps when it sends);
/// broker wait (the record's timestamp → the first event a consumer emitted because of it, i.e.
/// the time in the broker plus the consumer's poll and transaction; none when nothing followed
/// from it); next (produced-at → the next event's produced-at).
public struct OrderTimeline: Sendable, Codable, Equatable {
    public struct Step: Sendable, Codable, Equatable {
        public var eventType: String
        /// The service whose outbox the event came from (the topic's owner).
        public var service: String
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var eventId: String
        public var causationId: String?
        public var correlationId: String
        public var traceId: String?
        public var producedAtMs: Int64
        /// The record's timestamp (the relay's send); nil when the broker kept none.
        public var sentAtMs: Int64?
        /// From the first event's produced-at.
        public var atMs: Int64
        public var outboxWaitMs: Int64?
        public var brokerWaitMs: Int64?
        public var nextStepMs: Int64?
        /// Services that emitted an event caused by this one.
        public var consumedBy: [String]
    }

    /// One service's own view of the order (its HTTP read side), as text.
    public struct View: Sendable, Codable, Equatable {
        public var service: String
        public var summary: String

        public init(service: String, summary: String) {
            self.service = service
            self.summary = summary
        }
    }

    public var orderId: String
    public var steps: [Step]
    public var views: [View] = []

    public init(orderId: String, steps: [Step], views: [View] = []) {
        self.orderId = orderId
        self.steps = steps
        self.views = views
    }

    /// Every trace id the order's events carry (one when the whole saga is one trace).
    public var traceIds: [String] { Array(Set(steps.compactMap(\.traceId))).sorted() }
    public var totalMs: Int64 { (steps.last?.producedAtMs ?? 0) - (steps.first?.producedAtMs ?? 0) }

    /// The owner of each saga topic: the one service that produces to it.
    public static func producer(of topic: String) -> String {
        switch topic {
        case TopicCatalog.orders.name: "order"
        case TopicCatalog.inventory.name: "inventory"
        case TopicCatalog.payments.name: "payment"
        case TopicCatalog.notifications.name: "notification"
        default: "?"
        }
    }

    /// Where each service's HTTP read side holds its state for an order (a path under the
    /// service's base URL): the timeline's "views" and the console's order page read these.
    public static func statePaths(of orderId: String) -> [(service: String, path: String)] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let id = orderId.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return [("order", "/orders/\(id)"), ("inventory", "/reservations/\(id)"),
                ("payment", "/payments/\(id)"), ("notification", "/notifications?orderId=\(id)")]
    }

    /// A record as read from Kafka, for `build`.
    public struct Record: Sendable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var timestampMs: Int64?
        public var envelope: EventEnvelope

        public init(topic: String, partition: Int32, offset: Int64, timestampMs: Int64?, envelope: EventEnvelope) {
            self.topic = topic
            self.partition = partition
            self.offset = offset
            self.timestampMs = timestampMs
            self.envelope = envelope
        }
    }

    /// The timeline of `orderId` from its records (any order; duplicates published twice by a
    /// relay appear once, at their first offset).
    public static func build(orderId: String, records: [Record]) -> OrderTimeline {
        var seen = Set<UUID>()
        let unique = records.filter { $0.envelope.orderId == orderId }
            .sorted { ($0.envelope.producedAtUnixMs, $0.topic, $0.offset) < ($1.envelope.producedAtUnixMs, $1.topic, $1.offset) }
            .filter { seen.insert($0.envelope.eventId).inserted }
        let start = unique.first?.envelope.producedAtUnixMs ?? 0
        var children: [UUID: [Record]] = [:]
        for record in unique {
            if let cause = record.envelope.causationId { children[cause, default: []].append(record) }
        }
        let steps = unique.enumerated().map { index, record -> Step in
            let envelope = record.envelope
            let caused = children[envelope.eventId] ?? []
            let firstReaction = caused.map(\.envelope.producedAtUnixMs).min()
            return Step(
                eventType: envelope.eventType.rawValue, service: producer(of: record.topic), topic: record.topic,
                partition: record.partition, offset: record.offset, eventId: envelope.eventId.uuidString.lowercased(),
                causationId: envelope.causationId?.uuidString.lowercased(), correlationId: envelope.correlationId.uuidString.lowercased(),
                traceId: envelope.traceparent.flatMap(traceId(of:)), producedAtMs: envelope.producedAtUnixMs,
                sentAtMs: record.timestampMs, atMs: envelope.producedAtUnixMs - start,
                outboxWaitMs: record.timestampMs.map { max(0, $0 - envelope.producedAtUnixMs) },
                brokerWaitMs: zip2(record.timestampMs, firstReaction).map { max(0, $1 - $0) },
                nextStepMs: index + 1 < unique.count ? unique[index + 1].envelope.producedAtUnixMs - envelope.producedAtUnixMs : nil,
                consumedBy: Array(Set(caused.map { producer(of: $0.topic) })).sorted())
        }
        return OrderTimeline(orderId: orderId, steps: steps)
    }

    /// The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`).
    public static func traceId(of traceparent: String) -> String? {
        let parts = traceparent.split(separator: "-")
        return parts.count >= 4 && parts[1].count == 32 ? String(parts[1]) : nil
    }
}

private func zip2<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
