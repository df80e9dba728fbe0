import EventSchema
import Foundation
import Kafka
import Locking
import Logging
import Persistence

/// A consumer group member that applies events exactly once to the service's database.
///
/// Per batch from `poll`: partitions in offset order, messages at or below the stored offset and
/// event ids already in the inbox skipped (counted), the rest decoded and handed to the handler,
/// all in one transaction with the inbox rows, the outbox rows and the new offsets. After the
/// commit: a wake-up for the relay and, at most every `kafkaCommitInterval`, the Kafka commit
/// (advisory, for lag tools). The next batch is polled only after that, so a rebalance never
/// takes partitions away mid-batch.
///
/// Between batches (at least once a second) the runtime looks after its partitions: offsets that
/// advanced only in memory are stored, a partition held for an offset anomaly is looked at again,
/// and the progress of every assigned partition is checked against its lag (`report()`, which
/// readiness and `GET /consumer` show).
///
///     let runtime = ConsumerRuntime(configuration: config, database: db, relay: relay, logger: logger) { event, unit in
///         ... change tables through unit.connection, unit.emit(...)
///         return .applied
///     }
///     try await runtime.run()        // until runtime.stop()
///
/// What it knows about its partitions is a `PartitionBook`; the rebalance hooks and the report
/// are in files of their own, retention is `InboxPruner`'s.
public final class ConsumerRuntime: @unchecked Sendable {
    public let configuration: ConsumerConfiguration
    let database: any SQLDatabase
    private let relay: OutboxRelay?
    let logger: Logger
    private let hooks: ConsumerHooks
    let metrics: ConsumerMetrics
    let processor: BatchProcessor
    let state = Protected(State())
    private var pruner: InboxPruner {
        InboxPruner(configuration: configuration, database: database, logger: logger) { [weak self] inbox, sequences in
            self?.count {
                $0.prunedInboxRows += inbox
                $0.prunedSequenceRows += sequences
            }
        }
    }

    /// The runtime's lifecycle and its partitions, behind one lock.
    struct State {
        enum Phase: Equatable { case created, running, stopping, stopped }
        var phase = Phase.created
        var consumer: KafkaConsumer?
        var book = PartitionBook(now: .now)
        var stats = ConsumerStatistics()
        var batchNumber = 0
        /// When the batch in hand was polled (nil between batches): a handler that hangs, or a
        /// transaction that waits, shows in `report()` even when nothing fails.
        var batchSince: ContinuousClock.Instant?

        var isStopping: Bool { phase == .stopping || phase == .stopped }
    }

    public init(configuration: ConsumerConfiguration, database: any SQLDatabase, relay: OutboxRelay? = nil,
                hooks: ConsumerHooks = ConsumerHooks(),
                logger: Logger = Logger(label: "messaging.consumer"), prelude: BatchPrelude? = nil,
                handler: @escaping EventHandler) {
        self.configuration = configuration
        self.database = database
        self.relay = relay
        self.hooks = hooks
        var logger = logger
        logger[metadataKey: "group"] = "\(configuration.groupID)"
        self.logger = logger
        metrics = ConsumerMetrics(group: configuration.groupID)
        processor = BatchProcessor(configuration: configuration, database: database, metrics: metrics,
                                   logger: logger, signer: relay?.configuration.signer, prelude: prelude, handler: handler)
    }

    public var statistics: ConsumerStatistics { state.value.stats }

    /// Every change to the statistics goes through here (with the rest of the state it goes
    /// with); the metrics follow from the change.
    @discardableResult
    func counting<T>(_ change: (inout State) -> T) -> T {
        let (old, new, result) = state.update { state -> (ConsumerStatistics, ConsumerStatistics, T) in
            let old = state.stats
            let result = change(&state)
            return (old, state.stats, result)
        }
        metrics.advance(from: old, to: new)
        return result
    }

    func count(_ change: (inout ConsumerStatistics) -> Void) {
        counting { change(&$0.stats) }
    }

    /// Partitions this member holds now (empty before the group assigned any).
    public var assignment: Set<TopicPartition> { state.value.consumer?.assignment ?? [] }

    /// Asks `run()` to return: it stops polling, finishes and commits the batch in hand, then
    /// leaves the group. A batch waiting to retry a transient failure is abandoned (uncommitted,
    /// so it is consumed again later).
    public func stop() {
        state.update { if $0.phase != .stopped { $0.phase = .stopping } }
    }

    var isStopping: Bool { state.value.isStopping }

    /// Joins the group and processes batches until `stop()`. Throws only if the consumer cannot
    /// be created or Kafka fails fatally.
    public func run() async throws {
        guard state.update({ state -> Bool in
            guard state.phase == .created else { return false }
            state.phase = .running
            return true
        }) else { return }
        var kafka = configuration.kafka
        if let interval = configuration.lagStatisticsInterval, kafka["statistics.interval.ms"] == nil {
            kafka["statistics.interval.ms"] = "\(max(1, interval.milliseconds))"
        }
        // A fetch offset the log does not hold must surface (and hold the partition), not be
        // silently moved to the log start; every partition gets an explicit start offset anyway.
        if kafka["auto.offset.reset"] == nil { kafka["auto.offset.reset"] = "error" }
        let hooks = RebalanceHooks(
            onAssign: { [weak self] (partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] in
                guard let self else { return [:] }
                return try await self.assigned(partitions)
            },
            onRevoke: { [weak self] (partitions: [TopicPartition], lost: Bool) async -> Void in
                await self?.revoked(partitions, lost: lost)
            },
            onPartitionError: { [weak self] partition, error in self?.partitionFailed(partition, error) })
        let lagMetrics = metrics
        var onStatistics: (@Sendable (String) -> Void)?
        if configuration.lagStatisticsInterval != nil {
            onStatistics = { json in lagMetrics.recordLag(statistics: json) }
        }
        let consumer = try KafkaConsumer(
            configuration: kafka, groupID: configuration.groupID, topics: configuration.topics, hooks: hooks,
            logger: logger, onStatistics: onStatistics)
        state.update { $0.consumer = consumer }
        await learnPartitionCounts(consumer)
        let pruning = Task { [pruner] in await pruner.run() }
        defer { pruning.cancel() }
        logger.info("consumer started", metadata: ["topics": "\(configuration.topics.joined(separator: ","))"])

        var failure: (any Error)?
        while !isStopping {
            let batch: [ConsumedMessage]
            do {
                batch = try await consumer.poll(maxMessages: configuration.maxBatchSize, timeout: configuration.pollTimeout)
            } catch {
                failure = error
                logger.critical("consumer failed: \(error)")
                break
            }
            if !batch.isEmpty {
                count { $0.polled += batch.count }
                do {
                    try await handle(batch, consumer: consumer)
                } catch is BatchProcessor.Abandoned {
                    logger.notice("stopping with a batch not committed; it will be consumed again")
                    break
                }
            }
            await lookAfterPartitions(consumer)
        }
        await storeUnstoredOffsets(force: true)
        await commitToKafka(consumer, force: true)
        await consumer.close()
        state.update {
            $0.consumer = nil
            $0.phase = .stopped
        }
        logger.info("consumer stopped")
        if let failure { throw failure }
    }

    /// The co-partitioning check needs each consumed topic's partition count; without it (the
    /// metadata request failed) only the key is checked.
    private func learnPartitionCounts(_ consumer: KafkaConsumer) async {
        do {
            let counts = try await consumer.partitionCounts(configuration.topics)
            processor.partitionCounts.update { $0 = counts }
        } catch {
            logger.warning("cannot learn the partition counts of \(configuration.topics); records are checked by key only: \(error)")
        }
    }

    private func handle(_ batch: [ConsumedMessage], consumer: KafkaConsumer) async throws {
        let started = DispatchTime.now().uptimeNanoseconds
        let (flowing, known, gaps) = state.update { state -> ([ConsumedMessage], [TopicPartition: Int64], [PartitionBook.Gap]) in
            state.batchSince = .now
            let flowing = state.book.flowing(batch)
            return (flowing, state.book.lastProcessed, state.book.gaps(in: flowing))
        }
        defer { state.update { $0.batchSince = nil } }
        recordGaps(gaps)
        let (prepared, preSkipped) = processor.prepare(flowing, knownOffsets: known)
        var outcome = BatchProcessor.Outcome()
        if !prepared.isEmpty {
            outcome = try await processor.commit(prepared) { [weak self] in self?.isStopping ?? true }
        }
        outcome.skippedOffset += preSkipped
        let now = ContinuousClock.now
        let number = counting { state -> Int in
            state.stats.add(outcome)
            state.book.processed(outcome.storedOffsets, stored: outcome.committedTransaction, now: now)
            state.batchNumber += 1
            return state.batchNumber
        }
        record(outcome, batchSize: batch.count, nanoseconds: DispatchTime.now().uptimeNanoseconds - started)
        for action in outcome.commitActions { action() }
        if outcome.committedTransaction { hooks.afterDatabaseCommit?(number) }
        if !outcome.outboxIds.isEmpty { relay?.committed(outcome.outboxIds) }
        if !outcome.storedOffsets.isEmpty { await commitToKafka(consumer, force: false) }
    }

    private func recordGaps(_ gaps: [PartitionBook.Gap]) {
        guard !gaps.isEmpty else { return }
        for gap in gaps {
            logger.error("records skipped: \(gap.partition) went from offset \(gap.expected - 1) to \(gap.offset)",
                         metadata: ["partition": "\(gap.partition)"])
        }
        count { $0.offsetGaps += gaps.reduce(0) { $0 + $1.skipped } }
    }

    private func commitToKafka(_ consumer: KafkaConsumer, force: Bool) async {
        let interval = configuration.kafkaCommitInterval
        let due = state.update { $0.book.kafkaCommitDue(now: .now, interval: interval, force: force) }
        if !due.isEmpty { await consumer.commit(due.mapValues { $0 + 1 }) }
    }

    /// The batch's timings, and its dead letters in the log (its counts are in the statistics).
    private func record(_ outcome: BatchProcessor.Outcome, batchSize: Int, nanoseconds: UInt64) {
        metrics.batchSize.record(batchSize)
        metrics.batchDuration.recordNanoseconds(Int64(nanoseconds))
        for note in outcome.deadLetters {
            var metadata = BatchProcessor.metadata(note.message)
            metadata["kind"] = "\(note.kind)"
            logger.warning("dead-lettered: \(note.error)", metadata: metadata)
        }
        if logger.logLevel <= .debug {
            logger.debug("batch committed", metadata: [
                "size": "\(batchSize)", "handled": "\(outcome.handled)", "emitted": "\(outcome.emitted)",
                "skipped-offset": "\(outcome.skippedOffset)", "skipped-inbox": "\(outcome.skippedInbox)",
            ])
        }
    }

    // MARK: - between batches

    /// At most once a second: store offsets advanced in memory, re-check held partitions every
    /// few seconds, and note which lagging partitions are waiting for progress.
    private func lookAfterPartitions(_ consumer: KafkaConsumer) async {
        await storeUnstoredOffsets(force: false)
        await pauseNewlyHeld(consumer)
        if state.update({ $0.book.heldCheckDue(now: .now) }) { await recheckHeldPartitions(consumer) }
        let marks = state.value.book.partitions.keys.map { ($0, consumer.cachedWatermarks($0)) }
        let now = ContinuousClock.now
        state.update { $0.book.noteLag(Dictionary(uniqueKeysWithValues: marks), now: now) }
    }

    /// Stores the offsets that batches without a transaction advanced, at most every
    /// `idleOffsetStoreInterval` (or now, on shutdown and revocation). Only forwards, like
    /// every offset write; a partition another member took since is left to its new owner.
    func storeUnstoredOffsets(force: Bool, only partitions: Set<TopicPartition>? = nil) async {
        let interval = configuration.idleOffsetStoreInterval
        let due = state.update { $0.book.offsetStoreDue(now: .now, interval: interval, force: force, only: partitions) }
        guard !due.isEmpty else { return }
        let group = configuration.groupID
        do {
            try await database.write { connection in try OffsetStore.store(group: group, offsets: due, on: connection) }
            state.update { $0.book.stored(due) }
        } catch {
            logger.warning("cannot store the offsets of skipped records (they are read and skipped again after a restart): \(error)")
        }
    }

    // MARK: - retention

    /// Deletes inbox rows older than the retention, in chunks (short transactions); returns how many.
    @discardableResult
    public func pruneInbox() async throws -> Int { try await pruner.pruneInbox() }

    /// Deletes the sequence rows of orders that emitted nothing within the sequence retention.
    @discardableResult
    public func pruneSequences() async throws -> Int { try await pruner.pruneSequences() }
}
