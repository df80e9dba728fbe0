import EventSchema
import Foundation
import Kafka
import Logging
import Persistence

/// Turns one polled batch into one database transaction: offsets fence, inbox, handlers,
/// dead letters, outbox rows and stored offsets commit together. Kafka-free, so tests can drive it.
final class BatchProcessor: Sendable {
    let group: String
    let database: any SQLDatabase
    let handler: EventHandler
    let configuration: ConsumerConfiguration
    let metrics: ConsumerMetrics
    let logger: Logger
    /// Topics the handler emitted to in earlier batches: their sequence rows for the batch's
    /// orders are taken in one statement up front instead of one per emit.
    private let emittedTopics = Protected<Set<String>>([])

    init(configuration: ConsumerConfiguration, database: any SQLDatabase, metrics: ConsumerMetrics,
         logger: Logger, handler: @escaping EventHandler) {
        self.group = configuration.groupID
        self.database = database
        self.handler = handler
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    /// A message ready for the transaction: decoded (outside the transaction) or why not.
    struct Prepared: Sendable {
        enum Content: Sendable {
            case event(DecodedEvent)
            /// Dead letter; the envelope when the headers were fine (payload broken), for causation.
            case undecodable(error: String, envelope: EventEnvelope?)
            case unknownType(String)
            /// A type this consumer does not act on (`handledEventTypes`), known from its header.
            case notHandled
        }
        let message: ConsumedMessage
        let eventId: UUID?
        let content: Content
    }

    struct DeadLetterNote: Sendable {
        let message: ConsumedMessage
        let kind: Saga_V1_DeadLetter.ErrorKind
        let error: String
        let orderId: String?
    }

    /// What a committed batch did.
    struct Outcome: Sendable {
        var handledByTopic: [String: Int] = [:]
        var skippedOffset = 0
        var skippedInbox = 0
        var skippedUnknownType = 0
        var skippedNotHandled = 0
        var deadLetters: [DeadLetterNote] = []
        var emitted = 0
        var emittedTopics: Set<String> = []
        var outboxIds: [Int64] = []
        /// Last processed offset per partition after the commit.
        var storedOffsets: [TopicPartition: Int64] = [:]
        /// Attempts rolled back before the one that committed.
        var retries = 0
        /// False when nothing in the batch needed the database (see `needsTransaction`).
        var committedTransaction = false
        var handled: Int { handledByTopic.values.reduce(0, +) }
    }

    struct Abandoned: Error {}

    /// A handler failed on message `index`: the transaction rolls back, then the runtime decides.
    private struct MessageFailure: Error {
        let index: Int
        let error: any Error
    }

    // MARK: - preparing (outside the transaction)

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
           let type = EventType(rawValue: String(decoding: raw, as: UTF8.self)), !handled.contains(type) {
            return Prepared(message: message, eventId: nil, content: .notHandled)
        }
        let headers = message.headers.lazy.map { (name: $0.key, value: $0.value) }
        do {
            let decoded = try DecodedEvent(headers: headers, payload: message.value, topic: message.topic)
            return Prepared(message: message, eventId: decoded.envelope.eventId, content: .event(decoded))
        } catch {
            let envelope = try? EventEnvelope(headers: headers)
            let eventId = envelope?.eventId ?? Self.rawEventId(message)
            if case .unknownEventType(let type) = error, !configuration.deadLetterUnknownEventTypes {
                return Prepared(message: message, eventId: eventId, content: .unknownType(type))
            }
            return Prepared(message: message, eventId: eventId,
                            content: .undecodable(error: error.description, envelope: envelope))
        }
    }

    /// The `event-id` header as a UUID even when the rest of the envelope is broken, so a
    /// duplicate of a poison message is dead-lettered once.
    private static func rawEventId(_ message: ConsumedMessage) -> UUID? {
        guard let bytes = message.header(EventEnvelope.Header.eventId),
              let text = String(validating: bytes, as: UTF8.self) else { return nil }
        return UUID(uuidString: text)
    }

    // MARK: - the transaction, with retries

    /// Commits the batch, retrying transient failures with backoff (never skipping a message).
    /// A message whose handler fails for good is dead-lettered by replaying the batch without it.
    /// Throws `Abandoned` when `shouldStop` turns true while waiting to retry.
    func commit(_ prepared: [Prepared], shouldStop: @escaping @Sendable () -> Bool) async throws -> Outcome {
        guard Self.needsTransaction(prepared) else { return Self.skippedWithoutTransaction(prepared) }
        var rejected: [Int: String] = [:]
        var unclassifiedAttempts: [Int: Int] = [:]
        var failures = 0
        var retries = 0
        while true {
            let poisoned = rejected
            do {
                var outcome = try await database.write { [self] connection in
                    try runTransaction(prepared, rejected: poisoned, on: connection)
                }
                outcome.retries = retries
                outcome.committedTransaction = true
                if !outcome.emittedTopics.isSubset(of: emittedTopics.value) {
                    emittedTopics.update { $0.formUnion(outcome.emittedTopics) }
                }
                return outcome
            } catch let failure as MessageFailure {
                retries += 1
                let message = prepared[failure.index].message
                let reason = "\(failure.error)"
                switch ErrorDisposition.classify(failure.error) {
                case .permanent:
                    rejected[failure.index] = reason
                    continue  // replay now, without it
                case .unclassified:
                    let attempts = unclassifiedAttempts[failure.index, default: 0] + 1
                    unclassifiedAttempts[failure.index] = attempts
                    if attempts >= configuration.maxAttemptsForUnclassifiedErrors {
                        rejected[failure.index] = reason
                        continue
                    }
                    logger.warning("handler failed (attempt \(attempts)), retrying the batch: \(reason)",
                                   metadata: Self.metadata(message))
                case .transient:
                    logger.warning("handler failed transiently, retrying the batch: \(reason)", metadata: Self.metadata(message))
                }
            } catch {
                retries += 1
                logger.warning("batch transaction failed, retrying: \(error)", metadata: ["group": "\(group)"])
            }
            failures += 1
            if shouldStop() { throw Abandoned() }
            try? await Task.sleep(for: configuration.retry.delay(attempt: failures))
            if shouldStop() { throw Abandoned() }
        }
    }

    /// A batch of only events this consumer ignores changes nothing: no transaction. Its offsets
    /// advance in memory alone (the next transaction on the partition stores a higher one);
    /// after a restart or a rebalance those messages are read and ignored again. Under load a
    /// third or more of the batches are like this (e.g. Notification ignores OrderPlaced).
    static func needsTransaction(_ prepared: [Prepared]) -> Bool {
        prepared.contains { item in
            switch item.content {
            case .notHandled, .unknownType: return false
            case .event, .undecodable: return true
            }
        }
    }

    static func skippedWithoutTransaction(_ prepared: [Prepared]) -> Outcome {
        var outcome = Outcome()
        for item in prepared {
            if case .unknownType = item.content { outcome.skippedUnknownType += 1 } else { outcome.skippedNotHandled += 1 }
        }
        outcome.storedOffsets = lastOffsets(prepared).highest
        return outcome
    }

    /// The batch's partitions in first-seen order, and the last offset of each.
    static func lastOffsets(_ prepared: [Prepared]) -> (partitions: [TopicPartition], highest: [TopicPartition: Int64]) {
        var partitions: [TopicPartition] = []
        var highest: [TopicPartition: Int64] = [:]
        for item in prepared {
            let key = item.message.topicPartition
            if let known = highest[key] {
                highest[key] = max(known, item.message.offset)
            } else {
                partitions.append(key)
                highest[key] = item.message.offset
            }
        }
        return (partitions, highest)
    }

    static func metadata(_ message: ConsumedMessage) -> Logger.Metadata {
        var metadata: Logger.Metadata = [
            "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
        ]
        if let orderId = message.header(EventEnvelope.Header.orderId) {
            metadata["order-id"] = "\(String(decoding: orderId, as: UTF8.self))"
        }
        if let eventId = message.header(EventEnvelope.Header.eventId) {
            metadata["event-id"] = "\(String(decoding: eventId, as: UTF8.self))"
        }
        if let correlation = message.header(EventEnvelope.Header.correlationId) {
            metadata["correlation-id"] = "\(String(decoding: correlation, as: UTF8.self))"
        }
        return metadata
    }

    /// One attempt: synchronous, on the database's thread.
    private func runTransaction(_ prepared: [Prepared], rejected: [Int: String], on connection: any SQLConnection) throws -> Outcome {
        var outcome = Outcome()
        var live = [Bool](repeating: true, count: prepared.count)

        // 1. Fence: lock the partitions' offset rows and skip what a previous owner already did.
        let (partitions, highest) = Self.lastOffsets(prepared)
        let stored = try OffsetStore.lock(group: group, partitions: partitions, on: connection)
        for (index, item) in prepared.enumerated() where item.message.offset <= stored[item.message.topicPartition] ?? -1 {
            live[index] = false
            outcome.skippedOffset += 1
        }

        // 2. Inbox: only events whose id was not recorded yet run (the relay may publish twice).
        var ids: [UUID] = []
        var seen = Set<UUID>()
        for (index, item) in prepared.enumerated() where live[index] {
            guard let id = item.eventId else { continue }
            if seen.insert(id).inserted {
                ids.append(id)
            } else {
                live[index] = false
                outcome.skippedInbox += 1
            }
        }
        let fresh = try InboxStore.insertNew(group: group, ids: ids, on: connection)
        if fresh.count < ids.count {
            for (index, item) in prepared.enumerated() where live[index] {
                if let id = item.eventId, !fresh.contains(id) {
                    live[index] = false
                    outcome.skippedInbox += 1
                }
            }
        }

        // 3. Handlers and dead letters, in offset order per partition.
        let unit = UnitOfWork(connection: connection)
        let topics = emittedTopics.value
        if !topics.isEmpty {
            var orders: [String] = []
            for (index, item) in prepared.enumerated() where live[index] {
                if case .event(let decoded) = item.content, !decoded.envelope.orderId.isEmpty { orders.append(decoded.envelope.orderId) }
            }
            try unit.prefetchSequences(topics: Array(topics), orderIds: orders)
        }
        for (index, item) in prepared.enumerated() where live[index] {
            let message = item.message
            if let reason = rejected[index] {
                var cause: EventEnvelope?
                if case .event(let decoded) = item.content { cause = decoded.envelope }
                try unit.deadLetter(message, error: reason, kind: .rejected, consumerGroup: group, causedBy: cause)
                outcome.deadLetters.append(DeadLetterNote(message: message, kind: .rejected, error: reason, orderId: cause?.orderId))
                continue
            }
            switch item.content {
            case .event(let decoded):
                let started = DispatchTime.now().uptimeNanoseconds
                do {
                    _ = try handler(InboundEvent(decoded: decoded, message: message, consumerGroup: group, logger: logger), unit)
                } catch {
                    throw MessageFailure(index: index, error: error)
                }
                metrics.handlerTimer(decoded.envelope.eventType)
                    .recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
                outcome.handledByTopic[message.topic, default: 0] += 1
            case .undecodable(let error, let envelope):
                try unit.deadLetter(message, error: error, kind: .undecodable, consumerGroup: group, causedBy: envelope)
                outcome.deadLetters.append(DeadLetterNote(message: message, kind: .undecodable, error: error, orderId: envelope?.orderId))
            case .unknownType:
                outcome.skippedUnknownType += 1
            case .notHandled:
                outcome.skippedNotHandled += 1
            }
        }
        try unit.flush()
        outcome.emitted = unit.emittedCount
        outcome.emittedTopics = unit.emittedTopics
        outcome.outboxIds = unit.outboxIds

        // 4. Offsets: the last offset of every partition in the batch, skipped messages included.
        try OffsetStore.store(group: group, offsets: highest, on: connection)
        outcome.storedOffsets = highest.merging(stored) { max($0, $1) }
        return outcome
    }
}
