import Credentials
import EventSchema
import Foundation
import Kafka
import Locking
import Logging
import Persistence

/// Turns one polled batch into one database transaction: offsets fence, inbox, handlers,
/// dead letters, outbox rows and stored offsets commit together. Kafka-free, so tests can drive it.
final class BatchProcessor: Sendable {
    let group: String
    let database: any SQLDatabase
    let handler: EventHandler
    let prelude: BatchPrelude?
    let configuration: ConsumerConfiguration
    let metrics: ConsumerMetrics
    let logger: Logger
    let stall: StallWatch
    /// Signs the events and dead letters the batch emits (the service's key).
    let signer: EventSigner?
    /// Topics the handler emits to (configured, and learned from earlier batches): their sequence
    /// rows for the batch's orders are taken in one statement up front, in a fixed order, instead
    /// of one per emit. They double as the batch's per-order locks (see `runTransaction`).
    private let emittedTopics: Protected<Set<String>>
    /// Partition count per consumed topic, for the co-partitioning check (learned at start).
    let partitionCounts = Protected<[String: Int32]>([:])

    init(configuration: ConsumerConfiguration, database: any SQLDatabase, metrics: ConsumerMetrics,
         logger: Logger, signer: EventSigner? = nil, prelude: BatchPrelude? = nil, handler: @escaping EventHandler) {
        self.signer = signer
        self.group = configuration.groupID
        self.database = database
        self.handler = handler
        self.prelude = prelude
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        stall = StallWatch(bound: configuration.stallBound)
        emittedTopics = Protected(Set(configuration.outputTopics))
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
        /// The committed unit's `afterCommit` actions.
        var commitActions: [@Sendable () -> Void] = []
        /// Last processed offset per partition after the commit.
        var storedOffsets: [TopicPartition: Int64] = [:]
        /// Attempts rolled back before the one that committed.
        var retries = 0
        /// False when nothing in the batch needed the database (see `needsTransaction`).
        var committedTransaction = false
        var handled: Int { handledByTopic.values.reduce(0, +) }
    }

    struct Abandoned: Error {}

    /// Message `index` failed (its handler, or writing its dead letter): the transaction rolls
    /// back, then the runtime decides.
    private struct MessageFailure: Error {
        let index: Int
        let error: any Error
        let whileDeadLettering: Bool
    }

    // MARK: - the transaction, with retries

    /// What the retries of one batch learned about its messages.
    private struct Verdicts {
        /// Messages to dead-letter instead of handling, with why.
        var rejected: [Int: (kind: Saga_V1_DeadLetter.ErrorKind, reason: String)] = [:]
        /// Messages whose full dead letter could not be written: they get one without their bytes.
        var bare: Set<Int> = []
        var unclassifiedAttempts: [Int: Int] = [:]
        /// The batch's new rows go in one at a time, in place (`NewRowQueue` failed once).
        var newRowsInPlace = false
    }

    /// Commits the batch, retrying transient failures with backoff (never skipping a message).
    /// A message that can never succeed is dead-lettered by replaying the batch without it: its
    /// handler failed for good (a permanent error, or an unclassified one too often), or its dead
    /// letter could not be written at all. A run of transient failures longer than the stall bound
    /// is reported (error log, counter, readiness). Throws `Abandoned` when `shouldStop` turns
    /// true while waiting to retry.
    func commit(_ prepared: [Prepared], shouldStop: @escaping @Sendable () -> Bool) async throws -> Outcome {
        guard Self.needsTransaction(prepared) else { return Self.skippedWithoutTransaction(prepared) }
        let trace = MessageTracing.isEnabled ? BatchTrace(prepared, group: group) : nil
        var verdicts = Verdicts()
        var failures = 0
        var retries = 0
        while true {
            let decided = verdicts
            let reason: String
            do {
                let attemptStarted = trace == nil ? 0 : WallClock.nowMicros()
                var outcome = try await database.write { [self] connection in
                    try runTransaction(prepared, verdicts: decided, trace: trace, on: connection)
                }
                trace?.committed(startedAt: attemptStarted, attempts: retries + 1, dialect: database.dialect)
                outcome.retries = retries
                outcome.committedTransaction = true
                if !outcome.emittedTopics.isSubset(of: emittedTopics.value) {
                    emittedTopics.update { $0.formUnion(outcome.emittedTopics) }
                }
                if let lasted = stall.succeeded() {
                    logger.notice("batch committed again after failing for \(lasted)", metadata: ["group": "\(group)"])
                }
                return outcome
            } catch let failure as NewRowsFailed {
                // A lost race (another writer inserted a row first) or an error of one of the
                // rows: replay now with each row written in place, where a lost race is decided
                // again and an error is its own event's.
                retries += 1
                verdicts.newRowsInPlace = true
                logger.notice("batch replayed with its new rows written one by one: \(failure)", metadata: ["group": "\(group)"])
                continue
            } catch let failure as MessageFailure {
                retries += 1
                let message = prepared[failure.index].message
                let text = "\(failure.error)"
                if failure.whileDeadLettering {
                    // The dead letter itself cannot be written (a bug, or a record no row can hold):
                    // try once more with a letter that keeps only the origin, error and digest.
                    guard ErrorDisposition.classify(failure.error) == .transient || verdicts.bare.contains(failure.index) else {
                        logger.error("cannot write the dead letter, writing one without the record's bytes: \(text)",
                                     metadata: Self.metadata(message))
                        verdicts.bare.insert(failure.index)
                        continue
                    }
                    reason = "writing a dead letter failed: \(text)"
                } else {
                    switch ErrorDisposition.classify(failure.error) {
                    case .permanent:
                        verdicts.rejected[failure.index] = (.rejected, text)
                        continue  // replay now, without it
                    case .unclassified:
                        let attempts = verdicts.unclassifiedAttempts[failure.index, default: 0] + 1
                        verdicts.unclassifiedAttempts[failure.index] = attempts
                        if attempts >= configuration.maxAttemptsForUnclassifiedErrors {
                            verdicts.rejected[failure.index] = (.rejected, text)
                            continue
                        }
                        logger.warning("handler failed (attempt \(attempts)), retrying the batch: \(text)",
                                       metadata: Self.metadata(message))
                    case .transient:
                        logger.warning("handler failed transiently, retrying the batch: \(text)", metadata: Self.metadata(message))
                    }
                    reason = "handler of \(message.topic)[\(message.partition)]@\(message.offset) failed: \(text)"
                }
            } catch {
                retries += 1
                reason = "batch transaction failed: \(error)"
                logger.warning("batch transaction failed, retrying: \(error)", metadata: ["group": "\(group)"])
            }
            failures += 1
            if let stalled = stall.failed(reason) {
                metrics.stalls.increment()
                logger.error("batch still failing after \(stalled.failingFor) and \(stalled.attempts) attempts; readiness is red until it commits: \(reason)",
                             metadata: ["group": "\(group)"])
            }
            if shouldStop() { trace?.abandoned(); throw Abandoned() }
            try? await Task.sleep(for: configuration.retry.delay(attempt: failures))
            if shouldStop() { trace?.abandoned(); throw Abandoned() }
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
            case .event, .invalid: return true
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
    ///
    /// Locks are taken phase by phase, each phase in one fixed order, so two instances (or the
    /// consumer and another writer of the service) never wait on each other in a cycle: offset
    /// rows, inbox rows, the sequence rows of the batch's orders on the topics the service emits
    /// to (sorted; they serialise every writer of one order), the service's shared rows (the
    /// prelude: stock, accounts, sorted), then whatever the handlers touch per order.
    private func runTransaction(_ prepared: [Prepared], verdicts: Verdicts, trace: BatchTrace?,
                                on connection: any SQLConnection) throws -> Outcome {
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
            guard let id = item.inboxId else { continue }
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
                if let id = item.inboxId, !fresh.contains(id) {
                    live[index] = false
                    outcome.skippedInbox += 1
                }
            }
        }

        // 3. Per-order locks, then the service's shared rows.
        let unit = UnitOfWork(connection: connection, signer: signer, queuesNewRows: !verdicts.newRowsInPlace)
        var events: [InboundEvent] = []
        for (index, item) in prepared.enumerated() where live[index] && verdicts.rejected[index] == nil {
            if case .event(let decoded) = item.content {
                events.append(InboundEvent(decoded: decoded, message: item.message, consumerGroup: group,
                                           logger: trace?.logger(index, logger) ?? logger))
            }
        }
        let topics = emittedTopics.value
        if !topics.isEmpty, !events.isEmpty {
            try unit.prefetchSequences(topics: Array(topics), orderIds: events.map(\.envelope.orderId))
        }
        if let prelude, !events.isEmpty { try prelude(events, unit) }

        // 4. Handlers and dead letters, in offset order per partition.
        var nextEvent = events.startIndex
        for (index, item) in prepared.enumerated() where live[index] {
            let message = item.message
            if let verdict = verdicts.rejected[index] {
                trace?.deadLettered(index, verdict.reason)
                var cause: EventEnvelope?
                if case .event(let decoded) = item.content { cause = decoded.envelope }
                try writeDeadLetter(index, message, verdict.reason, verdict.kind, cause, verdicts, unit, &outcome)
                continue
            }
            switch item.content {
            case .event(let decoded):
                let event = events[nextEvent]
                nextEvent += 1
                let started = DispatchTime.now().uptimeNanoseconds
                let emittedBefore = unit.emittedCount
                let span = trace?.handling(index, decoded.envelope, unit)
                do {
                    let decision = try handler(event, unit)
                    trace?.handled(span, decision, emittedBefore: emittedBefore, unit)
                } catch let failure as NewRowsFailed {
                    // Rows queued by earlier events, written before this one's statement: theirs.
                    trace?.failed(span, failure, unit)
                    throw failure
                } catch {
                    trace?.failed(span, error, unit)
                    throw MessageFailure(index: index, error: error, whileDeadLettering: false)
                }
                metrics.handlerTimer(decoded.envelope.eventType)
                    .recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
                outcome.handledByTopic[message.topic, default: 0] += 1
            case .invalid(let kind, let error, let envelope):
                trace?.deadLettered(index, error)
                try writeDeadLetter(index, message, error, kind, envelope, verdicts, unit, &outcome)
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
        outcome.commitActions = unit.commitActions

        // 5. Offsets: the last offset of every partition in the batch, skipped messages included.
        try OffsetStore.store(group: group, offsets: highest, on: connection)
        outcome.storedOffsets = highest.merging(stored) { max($0, $1) }
        return outcome
    }

    /// The dead letter of message `index`; a failure to write it is the message's, so that the
    /// retry can fall back to a letter without the record's bytes instead of failing the batch.
    private func writeDeadLetter(_ index: Int, _ message: ConsumedMessage, _ error: String, _ kind: Saga_V1_DeadLetter.ErrorKind,
                                 _ cause: EventEnvelope?, _ verdicts: Verdicts, _ unit: UnitOfWork, _ outcome: inout Outcome) throws {
        let bare = verdicts.bare.contains(index)
        do {
            try unit.deadLetter(message, error: error, kind: kind, consumerGroup: group, causedBy: bare ? nil : cause?.cause,
                                maxBytes: configuration.deadLetterMaxBytes, withoutRecord: bare)
        } catch {
            throw MessageFailure(index: index, error: error, whileDeadLettering: true)
        }
        outcome.deadLetters.append(DeadLetterNote(message: message, kind: kind, error: error, orderId: cause?.orderId))
    }
}
