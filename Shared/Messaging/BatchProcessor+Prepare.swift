import Credentials
import EventSchema
import Foundation
import Kafka

/// Preparing a batch, outside its transaction: order, fence by the known offsets, decode,
/// authenticate and check where each record is.
extension BatchProcessor {
    /// A message ready for the transaction: decoded (outside the transaction) or why not.
    struct Prepared: Sendable {
        enum Content: Sendable {
            case event(DecodedEvent)
            /// Dead letter (undecodable or misrouted); the envelope when the headers were fine,
            /// for causation.
            case invalid(kind: Saga_V1_DeadLetter.ErrorKind, error: String, envelope: EventEnvelope?)
            case unknownType(String)
            /// A type this consumer does not act on (`handledEventTypes`), known from its header.
            case notHandled
        }
        let message: ConsumedMessage
        /// The id the inbox records: the event-id, or for a replayed dead letter one derived from
        /// the event-id and the dead letter's id (see `ReplayMarker`), when an operator signed the replay.
        let inboxId: UUID?
        let content: Content
    }

    /// Orders the batch by partition (offset order kept), drops messages at or below `knownOffsets`
    /// (counted in `skipped`), reads event ids and decodes.
    func prepare(_ messages: [ConsumedMessage], knownOffsets: [TopicPartition: Int64]) -> (prepared: [Prepared], skipped: Int) {
        var order: [TopicPartition] = []
        var byPartition: [TopicPartition: [ConsumedMessage]] = [:]
        for message in messages {
            let key = message.topicPartition
            if byPartition[key] == nil { order.append(key) }
            byPartition[key, default: []].append(message)
        }
        var prepared: [Prepared] = []
        prepared.reserveCapacity(messages.count)
        var skipped = 0
        for key in order {
            var last = knownOffsets[key] ?? -1
            for message in byPartition[key]! {
                guard message.offset > last else {
                    skipped += 1
                    continue
                }
                last = message.offset
                prepared.append(prepare(message))
            }
        }
        return (prepared, skipped)
    }

    private func prepare(_ message: ConsumedMessage) -> Prepared {
        if let handled = configuration.handledEventTypes, let raw = message.header(EventEnvelope.Header.eventType),
           let type = EventType(utf8: raw), !handled.contains(type) {
            return Prepared(message: message, inboxId: nil, content: .notHandled)
        }
        let headers = message.headers.lazy.map { (name: $0.key, value: $0.value) }
        do {
            let decoded = try DecodedEvent(headers: headers, payload: message.value, topic: message.topic)
            let replayOf: UUID?
            switch authenticate(message, decoded.envelope) {
            case .rejected(let why):
                return Prepared(message: message, inboxId: nil, content: .invalid(kind: .unauthenticated, error: why, envelope: nil))
            case .authentic(_, let replay):
                replayOf = replay
            }
            // Only an authentic record in its place takes an inbox id: a copy moved to another
            // partition must not make the original look like a duplicate.
            if let misrouted = misrouting(message, orderId: decoded.envelope.orderId) {
                return Prepared(message: message, inboxId: nil,
                                content: .invalid(kind: .misrouted, error: misrouted, envelope: decoded.envelope))
            }
            let inboxId = replayOf.map { ReplayMarker.inboxId(eventId: decoded.envelope.eventId, replayOf: $0) } ?? decoded.envelope.eventId
            return Prepared(message: message, inboxId: inboxId, content: .event(decoded))
        } catch {
            if case .unknownEventType(let type) = error, !configuration.deadLetterUnknownEventTypes {
                return Prepared(message: message, inboxId: nil, content: .unknownType(type))
            }
            // The envelope may be intact and signed (a payload this code cannot read): then the
            // writer is known and the record keeps its id; otherwise it is nobody's.
            if let envelope = try? EventEnvelope(headers: headers) {
                switch authenticate(message, envelope) {
                case .rejected(let why):
                    return Prepared(message: message, inboxId: nil, content: .invalid(kind: .unauthenticated, error: why, envelope: nil))
                case .authentic(_, let replayOf):
                    let inboxId = replayOf.map { ReplayMarker.inboxId(eventId: envelope.eventId, replayOf: $0) } ?? envelope.eventId
                    return Prepared(message: message, inboxId: inboxId,
                                    content: .invalid(kind: .undecodable, error: error.description, envelope: envelope))
                }
            }
            return Prepared(message: message, inboxId: nil, content: .invalid(kind: .undecodable, error: error.description, envelope: nil))
        }
    }

    /// Who wrote the record: the authenticator's verdict, or, without one (tests, the harness),
    /// whatever the headers say.
    private func authenticate(_ message: ConsumedMessage, _ envelope: EventEnvelope) -> EventAuthenticator.Verdict {
        let headers = message.headers.lazy.map { (name: $0.key, value: $0.value) }
        guard let authenticator = configuration.authenticator else {
            return .authentic(signer: "", replayOf: ReplayMarker.replayOf(headers))
        }
        return authenticator.check(topic: message.topic, key: message.key, payload: message.value, envelope: envelope, headers: headers)
    }

    /// Why a decoded event is in the wrong place, or nil: its key must be its order ID, and its
    /// partition the one the platform's partitioner gives that key (co-partitioning, design §2),
    /// or it is not where the other events of its order are.
    private func misrouting(_ message: ConsumedMessage, orderId: String) -> String? {
        let expectedKey = Array(orderId.utf8)
        guard message.key == expectedKey else {
            return "record key \(HeaderText.render(message.key)) is not its order-id \(HeaderText.render(expectedKey))"
        }
        if let count = partitionCounts.value[message.topic] {
            let home = Murmur2Partitioner.partition(forKey: expectedKey, partitionCount: count)
            if home != message.partition {
                return "record of order \(orderId) is in partition \(message.partition) of \(message.topic), but its key belongs in partition \(home) of \(count) (murmur2)"
            }
        }
        return nil
    }
}
