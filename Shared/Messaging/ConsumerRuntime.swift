import EventSchema
import Foundation
import Kafka
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
///     let runtime = ConsumerRuntime(configuration: config, database: db, relay: relay, logger: logger) { event, unit in
///         ... change tables through unit.connection, unit.emit(...)
///         return .applied
///     }
///     try await runtime.run()        // until runtime.stop()
public final class ConsumerRuntime: @unchecked Sendable {
    public let configuration: ConsumerConfiguration
    private let database: any SQLDatabase
    private let relay: OutboxRelay?
    private let logger: Logger
    private let hooks: ConsumerHooks
    private let metrics: ConsumerMetrics
    private let processor: BatchProcessor

    private let lock = NSLock()
    private var stopping = false
    private var consumer: KafkaConsumer?
    /// Last processed offset per assigned partition (from the database at assignment, then ours).
    private var storedOffsets: [TopicPartition: Int64] = [:]
    private var stats = ConsumerStatistics()
    private var batchNumber = 0
    /// Processed offsets not yet committed to Kafka, and when the last commit went out.
    private var uncommitted: [TopicPartition: Int64] = [:]
    private var lastKafkaCommit = ContinuousClock.now

    public init(configuration: ConsumerConfiguration, database: any SQLDatabase, relay: OutboxRelay? = nil,
                hooks: ConsumerHooks = ConsumerHooks(),
                logger: Logger = Logger(label: "messaging.consumer"), handler: @escaping EventHandler) {
        self.configuration = configuration
        self.database = database
        self.relay = relay
        self.hooks = hooks
        var logger = logger
        logger[metadataKey: "group"] = "\(configuration.groupID)"
        self.logger = logger
        metrics = ConsumerMetrics(group: configuration.groupID)
        processor = BatchProcessor(configuration: configuration, database: database, metrics: metrics,
                                   logger: logger, handler: handler)
    }

    public var statistics: ConsumerStatistics { lock.withLock { stats } }

    /// Partitions this member holds now (empty before the group assigned any).
    public var assignment: Set<TopicPartition> { lock.withLock { consumer }?.assignment ?? [] }

    /// Asks `run()` to return: it stops polling, finishes and commits the batch in hand, then
    /// leaves the group. A batch waiting to retry a transient failure is abandoned (uncommitted,
    /// so it is consumed again later).
    public func stop() {
        lock.withLock { stopping = true }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    /// Joins the group and processes batches until `stop()`. Throws only if the consumer cannot
    /// be created or Kafka fails fatally.
    public func run() async throws {
        var kafka = configuration.kafka
        if let interval = configuration.lagStatisticsInterval, kafka["statistics.interval.ms"] == nil {
            kafka["statistics.interval.ms"] = "\(max(1, interval.milliseconds))"
        }
        let hooks = RebalanceHooks(
            onAssign: { [weak self] (partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] in
                guard let self else { return [:] }
                return try await self.assigned(partitions)
            },
            onRevoke: { [weak self] (partitions: [TopicPartition], lost: Bool) async -> Void in
                self?.revoked(partitions, lost: lost)
            })
        let lagMetrics = metrics
        var onStatistics: (@Sendable (String) -> Void)?
        if configuration.lagStatisticsInterval != nil {
            onStatistics = { json in ConsumerRuntime.recordLag(json, metrics: lagMetrics) }
        }
        let consumer = try KafkaConsumer(
            configuration: kafka, groupID: configuration.groupID, topics: configuration.topics, hooks: hooks,
            logger: logger, onStatistics: onStatistics)
        lock.withLock { self.consumer = consumer }
        let pruner = Task { [weak self] in await self?.pruneInboxPeriodically() }
        defer { pruner.cancel() }
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
            guard !batch.isEmpty else { continue }
            lock.withLock { stats.polled += batch.count }
            do {
                try await handle(batch, consumer: consumer)
            } catch is BatchProcessor.Abandoned {
                logger.notice("stopping with a batch not committed; it will be consumed again")
                break
            }
        }
        await commitToKafka(consumer, force: true)
        await consumer.close()
        lock.withLock { self.consumer = nil }
        logger.info("consumer stopped")
        if let failure { throw failure }
    }

    private func handle(_ batch: [ConsumedMessage], consumer: KafkaConsumer) async throws {
        let started = DispatchTime.now().uptimeNanoseconds
        let known = lock.withLock { storedOffsets }
        let (prepared, preSkipped) = processor.prepare(batch, knownOffsets: known)
        var outcome = BatchProcessor.Outcome()
        if !prepared.isEmpty {
            outcome = try await processor.commit(prepared) { [weak self] in self?.isStopping ?? true }
        }
        outcome.skippedOffset += preSkipped
        let number = lock.withLock { () -> Int in
            for (partition, offset) in outcome.storedOffsets where storedOffsets[partition] != nil {
                storedOffsets[partition] = max(storedOffsets[partition]!, offset)
            }
            batchNumber += 1
            stats.batches += 1
            stats.handled += outcome.handled
            stats.skippedOffset += outcome.skippedOffset
            stats.skippedInbox += outcome.skippedInbox
            stats.skippedUnknownType += outcome.skippedUnknownType
            stats.skippedNotHandled += outcome.skippedNotHandled
            stats.deadLettered += outcome.deadLetters.count
            stats.retries += outcome.retries
            return batchNumber
        }
        record(outcome, batchSize: batch.count, nanoseconds: DispatchTime.now().uptimeNanoseconds - started)
        if outcome.committedTransaction { hooks.afterDatabaseCommit?(number) }
        if !outcome.outboxIds.isEmpty { relay?.committed(outcome.outboxIds) }
        if !outcome.storedOffsets.isEmpty {
            lock.withLock { uncommitted.merge(outcome.storedOffsets) { max($0, $1) } }
            await commitToKafka(consumer, force: false)
        }
    }

    private func commitToKafka(_ consumer: KafkaConsumer, force: Bool) async {
        let interval = configuration.kafkaCommitInterval
        let due = lock.withLock { () -> [TopicPartition: Int64] in
            guard !uncommitted.isEmpty, force || ContinuousClock.now - lastKafkaCommit >= interval else { return [:] }
            // Partitions revoked since are not ours to commit.
            let offsets = uncommitted.filter { storedOffsets[$0.key] != nil }
            uncommitted.removeAll(keepingCapacity: true)
            lastKafkaCommit = .now
            return offsets
        }
        if !due.isEmpty { await consumer.commit(due.mapValues { $0 + 1 }) }
    }

    private func record(_ outcome: BatchProcessor.Outcome, batchSize: Int, nanoseconds: UInt64) {
        metrics.batchSize.record(batchSize)
        metrics.batchDuration.recordNanoseconds(Int64(nanoseconds))
        for (topic, count) in outcome.handledByTopic { metrics.consumed(topic: topic).increment(by: count) }
        if outcome.skippedOffset > 0 { metrics.skippedOffset.increment(by: outcome.skippedOffset) }
        if outcome.skippedInbox > 0 { metrics.skippedInbox.increment(by: outcome.skippedInbox) }
        if outcome.skippedUnknownType > 0 { metrics.skippedUnknownType.increment(by: outcome.skippedUnknownType) }
        if outcome.skippedNotHandled > 0 { metrics.skippedNotHandled.increment(by: outcome.skippedNotHandled) }
        if outcome.retries > 0 { metrics.retries.increment(by: outcome.retries) }
        for note in outcome.deadLetters {
            (note.kind == .undecodable ? metrics.deadLetteredUndecodable : metrics.deadLetteredRejected).increment()
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

    // MARK: - rebalance hooks (on the consumer's poll thread, between batches)

    /// Where each newly assigned partition starts: the stored offset + 1; from the beginning if
    /// this database never processed it (whatever Kafka's committed offset says).
    private func assigned(_ partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        let group = configuration.groupID
        let stored = try await database.read { connection in try OffsetStore.load(group: group, on: connection) }
        var starts: [TopicPartition: Int64] = [:]
        lock.withLock {
            for partition in partitions {
                let last = stored[partition] ?? -1
                storedOffsets[partition] = last
                starts[partition] = last >= 0 ? last + 1 : KafkaConsumer.beginning
            }
        }
        logger.info("partitions assigned", metadata: [
            "starts": "\(starts.sorted { $0.key.description < $1.key.description }.map { "\($0.key)@\($0.value)" })",
        ])
        return starts
    }

    private func revoked(_ partitions: [TopicPartition], lost: Bool) {
        lock.withLock { for partition in partitions { storedOffsets[partition] = nil } }
    }

    // MARK: - inbox retention

    private func pruneInboxPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.inboxPruneInterval)
            if Task.isCancelled { return }
            do {
                _ = try await pruneInbox()
            } catch {
                logger.warning("inbox pruning failed: \(error)")
            }
        }
    }

    /// Deletes inbox rows older than the retention, in chunks (short transactions); returns how many.
    @discardableResult
    public func pruneInbox() async throws -> Int {
        let group = configuration.groupID
        let cutoff = WallClock.nowMillis() - configuration.inboxRetention.milliseconds
        var total = 0
        while true {
            let deleted = try await database.write { connection in
                try InboxStore.prune(group: group, receivedBefore: cutoff, limit: 5000, on: connection)
            }
            total += deleted
            if deleted < 5000 { break }
        }
        if total > 0 {
            metrics.inboxPruned.increment(by: total)
            lock.withLock { stats.prunedInboxRows += total }
            logger.info("pruned \(total) inbox rows")
        }
        return total
    }

    // MARK: - consumer lag

    /// librdkafka statistics: `consumer_lag` per assigned partition.
    private static func recordLag(_ json: String, metrics: ConsumerMetrics) {
        guard let root = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let topics = root["topics"] as? [String: Any] else { return }
        for (topic, value) in topics {
            guard let partitions = (value as? [String: Any])?["partitions"] as? [String: Any] else { continue }
            for (id, stats) in partitions {
                guard let partition = Int32(id), partition >= 0, let stats = stats as? [String: Any],
                      let lag = stats["consumer_lag"] as? Int, lag >= 0 else { continue }
                metrics.lag(topic: topic, partition: partition).record(lag)
            }
        }
    }
}
