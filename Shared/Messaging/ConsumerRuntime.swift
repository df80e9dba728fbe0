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
public final class ConsumerRuntime: @unchecked Sendable {
    public let configuration: ConsumerConfiguration
    private let database: any SQLDatabase
    private let relay: OutboxRelay?
    private let logger: Logger
    private let hooks: ConsumerHooks
    private let metrics: ConsumerMetrics
    private let processor: BatchProcessor
    private let state = Protected(State())

    /// The runtime's lifecycle and its view of each assigned partition, behind one lock.
    private struct State {
        enum Phase: Equatable { case created, running, stopping, stopped }
        var phase = Phase.created
        var consumer: KafkaConsumer?
        var partitions: [TopicPartition: PartitionState] = [:]
        var stats = ConsumerStatistics()
        var batchNumber = 0
        /// Processed offsets not yet committed to Kafka, and when the last commit went out.
        var uncommitted: [TopicPartition: Int64] = [:]
        var lastKafkaCommit = ContinuousClock.now
        /// Offsets advanced in memory only (batches that needed no transaction), not yet stored.
        var unstored: [TopicPartition: Int64] = [:]
        var lastOffsetStore = ContinuousClock.now
        var lastHeldCheck = ContinuousClock.now
        /// When the batch in hand was polled (nil between batches): a handler that hangs, or a
        /// transaction that waits, shows in `report()` even when nothing fails.
        var batchSince: ContinuousClock.Instant?

        var isStopping: Bool { phase == .stopping || phase == .stopped }
    }

    /// One assigned partition.
    private struct PartitionState {
        /// Last processed offset (from the database at assignment, then ours); -1 for none.
        var lastProcessed: Int64
        /// Why the partition is held (nothing is read from it), nil when it flows.
        var held: String?
        /// Whether librdkafka was told to pause it (a hold found inside `poll` waits for the loop).
        var paused = false
        /// A held partition's log as last looked at (no fetch statistics come for a paused one):
        /// its end is what an operator's reset usually wants.
        var heldMarks: Watermarks?
        /// Since when the partition has had lag without progress (nil: no lag, or progress since).
        var waitingSince: ContinuousClock.Instant?
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

    /// Partitions this member holds now (empty before the group assigned any).
    public var assignment: Set<TopicPartition> { state.value.consumer?.assignment ?? [] }

    /// Asks `run()` to return: it stops polling, finishes and commits the batch in hand, then
    /// leaves the group. A batch waiting to retry a transient failure is abandoned (uncommitted,
    /// so it is consumed again later).
    public func stop() {
        state.update { if $0.phase != .stopped { $0.phase = .stopping } }
    }

    private var isStopping: Bool { state.value.isStopping }

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
            onStatistics = { json in ConsumerRuntime.recordLag(json, metrics: lagMetrics) }
        }
        let consumer = try KafkaConsumer(
            configuration: kafka, groupID: configuration.groupID, topics: configuration.topics, hooks: hooks,
            logger: logger, onStatistics: onStatistics)
        state.update { $0.consumer = consumer }
        await learnPartitionCounts(consumer)
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
            if !batch.isEmpty {
                state.update { $0.stats.polled += batch.count }
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
        state.update { $0.batchSince = .now }
        defer { state.update { $0.batchSince = nil } }
        let (known, held) = state.update { state -> ([TopicPartition: Int64], Set<TopicPartition>) in
            var known: [TopicPartition: Int64] = [:]
            var held = Set<TopicPartition>()
            for (partition, value) in state.partitions {
                known[partition] = value.lastProcessed
                if value.held != nil { held.insert(partition) }
            }
            return (known, held)
        }
        // Records of a held partition wait: it is read again from its stored offset once released.
        let flowing = held.isEmpty ? batch : batch.filter { !held.contains($0.topicPartition) }
        countGaps(flowing, known: known)
        let (prepared, preSkipped) = processor.prepare(flowing, knownOffsets: known)
        var outcome = BatchProcessor.Outcome()
        if !prepared.isEmpty {
            outcome = try await processor.commit(prepared) { [weak self] in self?.isStopping ?? true }
        }
        outcome.skippedOffset += preSkipped
        let now = ContinuousClock.now
        let number = state.update { state -> Int in
            for (partition, offset) in outcome.storedOffsets {
                guard var value = state.partitions[partition], value.held == nil else { continue }
                if offset > value.lastProcessed {
                    value.lastProcessed = offset
                    value.waitingSince = nil
                }
                state.partitions[partition] = value
                if outcome.committedTransaction {
                    if let unstored = state.unstored[partition], unstored <= offset { state.unstored[partition] = nil }
                } else {
                    state.unstored[partition] = max(state.unstored[partition] ?? -1, offset)
                }
            }
            state.batchNumber += 1
            state.stats.batches += 1
            state.stats.handled += outcome.handled
            state.stats.skippedOffset += outcome.skippedOffset
            state.stats.skippedInbox += outcome.skippedInbox
            state.stats.skippedUnknownType += outcome.skippedUnknownType
            state.stats.skippedNotHandled += outcome.skippedNotHandled
            state.stats.deadLettered += outcome.deadLetters.count
            state.stats.unauthenticated += outcome.deadLetters.count { $0.kind == .unauthenticated }
            state.stats.retries += outcome.retries
            if outcome.committedTransaction { state.lastOffsetStore = now }
            return state.batchNumber
        }
        record(outcome, batchSize: batch.count, nanoseconds: DispatchTime.now().uptimeNanoseconds - started)
        if outcome.committedTransaction { hooks.afterDatabaseCommit?(number) }
        if !outcome.outboxIds.isEmpty { relay?.committed(outcome.outboxIds) }
        if !outcome.storedOffsets.isEmpty {
            state.update { $0.uncommitted.merge(outcome.storedOffsets) { max($0, $1) } }
            await commitToKafka(consumer, force: false)
        }
    }

    /// Counts records a partition skipped over: with no compaction and no transactions on these
    /// topics, a partition's offsets are consecutive, so a polled offset beyond the one after the
    /// last processed means records this consumer never saw ("poll skip").
    private func countGaps(_ batch: [ConsumedMessage], known: [TopicPartition: Int64]) {
        var next: [TopicPartition: Int64] = [:]
        var gaps = 0
        for message in batch {
            let partition = message.topicPartition
            guard let expected = next[partition] ?? known[partition].flatMap({ $0 >= 0 ? $0 + 1 : nil }) else {
                next[partition] = message.offset + 1
                continue
            }
            if message.offset > expected {
                gaps += Int(message.offset - expected)
                logger.error("records skipped: \(partition) went from offset \(expected - 1) to \(message.offset)",
                             metadata: ["partition": "\(partition)"])
            }
            next[partition] = max(expected, message.offset + 1)
        }
        if gaps > 0 {
            metrics.offsetGaps.increment(by: gaps)
            state.update { $0.stats.offsetGaps += gaps }
        }
    }

    private func commitToKafka(_ consumer: KafkaConsumer, force: Bool) async {
        let interval = configuration.kafkaCommitInterval
        let due = state.update { state -> [TopicPartition: Int64] in
            guard !state.uncommitted.isEmpty, force || ContinuousClock.now - state.lastKafkaCommit >= interval else { return [:] }
            // Partitions revoked since, or held, are not ours to commit.
            let offsets = state.uncommitted.filter { state.partitions[$0.key].map { $0.held == nil } ?? false }
            state.uncommitted.removeAll(keepingCapacity: true)
            state.lastKafkaCommit = .now
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
            metrics.deadLettered(note.kind).increment()
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
        let recheck = state.update { state -> Bool in
            let due = state.partitions.values.contains { $0.held != nil } && ContinuousClock.now - state.lastHeldCheck >= .seconds(5)
            if due { state.lastHeldCheck = .now }
            return due
        }
        if recheck { await recheckHeldPartitions(consumer) }
        let lags = state.value.partitions.keys.map { ($0, consumer.cachedWatermarks($0)) }
        let now = ContinuousClock.now
        state.update { state in
            for (partition, marks) in lags {
                guard var value = state.partitions[partition] else { continue }
                let lagging = marks.map { Self.lag(lastProcessed: value.lastProcessed, marks: $0) > 0 } ?? false
                if !lagging {
                    value.waitingSince = nil
                } else if value.waitingSince == nil {
                    value.waitingSince = now
                }
                state.partitions[partition] = value
            }
        }
    }

    private static func lag(lastProcessed: Int64, marks: Watermarks) -> Int64 {
        max(0, marks.high - max(lastProcessed + 1, marks.low))
    }

    /// Stores the offsets that batches without a transaction advanced, at most every
    /// `idleOffsetStoreInterval` (or now, on shutdown and revocation). Only forwards, like
    /// every offset write; a partition another member took since is left to its new owner.
    private func storeUnstoredOffsets(force: Bool, only partitions: Set<TopicPartition>? = nil) async {
        let interval = configuration.idleOffsetStoreInterval
        let due = state.update { state -> [TopicPartition: Int64] in
            guard !state.unstored.isEmpty, force || ContinuousClock.now - state.lastOffsetStore >= interval else { return [:] }
            var due: [TopicPartition: Int64] = [:]
            for (partition, offset) in state.unstored where partitions?.contains(partition) ?? true {
                if state.partitions[partition]?.held == nil { due[partition] = offset }
                state.unstored[partition] = nil
            }
            state.lastOffsetStore = .now
            return due
        }
        guard !due.isEmpty else { return }
        let group = configuration.groupID
        do {
            try await database.write { connection in try OffsetStore.store(group: group, offsets: due, on: connection) }
            state.update { $0.uncommitted.merge(due) { max($0, $1) } }
        } catch {
            logger.warning("cannot store the offsets of skipped records (they are read and skipped again after a restart): \(error)")
        }
    }

    // MARK: - rebalance hooks (on the consumer's poll thread, between batches)

    /// Where each newly assigned partition starts: the stored offset + 1; from the beginning if
    /// this database never processed it (whatever Kafka's committed offset says). A stored
    /// offset that the log cannot continue from is an anomaly (`OffsetAnomalyPolicy`).
    private func assigned(_ partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        let group = configuration.groupID
        let stored = try await database.read { connection in try OffsetStore.load(group: group, on: connection) }
        let consumer = state.value.consumer
        let withHistory = partitions.filter { (stored[$0] ?? -1) >= 0 }
        // A round trip per partition, only for partitions this database has processed before.
        let marks = try withHistory.isEmpty ? [:] : consumer?.queryWatermarks(withHistory) ?? [:]
        var starts: [TopicPartition: Int64] = [:]
        var fresh: [TopicPartition: PartitionState] = [:]
        for partition in partitions {
            var last = stored[partition] ?? -1
            var held: String?
            if last >= 0, let marks = marks[partition], let anomaly = OffsetAnomaly(lastProcessed: last, marks: marks) {
                count(anomaly)
                switch configuration.offsetAnomalyPolicy {
                case .hold:
                    held = anomaly.description
                    logger.error("holding \(partition): \(anomaly); reset its stored offset (kafka-tool offsets reset) or run with OFFSET_ANOMALY=accept")
                case .accept:
                    let accepted = marks.low - 1
                    last = accepted
                    try await database.write { try OffsetStore.reset(group: group, partition: partition, lastProcessed: accepted, on: $0) }
                    logger.error("\(partition): \(anomaly); accepting the log as it is: reading from its start, offset \(marks.low)")
                }
            }
            fresh[partition] = PartitionState(lastProcessed: last, held: held, paused: held != nil,
                                              heldMarks: held != nil ? marks[partition] : nil)
            starts[partition] = held != nil ? KafkaConsumer.paused : (last >= 0 ? last + 1 : KafkaConsumer.beginning)
        }
        state.update { state in
            for (partition, value) in fresh { state.partitions[partition] = value }
        }
        logger.info("partitions assigned", metadata: [
            "starts": "\(starts.sorted { $0.key.description < $1.key.description }.map { "\($0.key)@\($0.value == KafkaConsumer.paused ? "held" : "\($0.value)")" })",
        ])
        return starts
    }

    private func revoked(_ partitions: [TopicPartition], lost: Bool) async {
        // What this member skipped in memory is stored before the next owner starts (not when
        // the group already gave the partitions away: then the next owner may be ahead).
        if !lost { await storeUnstoredOffsets(force: true, only: Set(partitions)) }
        state.update { state in
            for partition in partitions {
                state.partitions[partition] = nil
                state.unstored[partition] = nil
            }
        }
    }

    /// On the poll thread: librdkafka cannot fetch from a partition's position (with
    /// `auto.offset.reset=error`, e.g. retention deleted records this consumer had not read yet).
    private func partitionFailed(_ partition: TopicPartition, _ error: KafkaError) {
        guard error.code == KafkaError.autoOffsetReset || error.code == KafkaError.offsetOutOfRange else {
            logger.warning("\(partition): \(error)")
            return
        }
        let newlyHeld = state.update { state -> Bool in
            guard var value = state.partitions[partition], value.held == nil else { return false }
            value.held = "the log does not hold the offset after the stored one (\(value.lastProcessed)): \(error.message)"
            state.partitions[partition] = value
            return true
        }
        guard newlyHeld else { return }
        metrics.offsetsBeforeLogStart.increment()
        state.update { $0.stats.offsetAnomalies += 1 }
        logger.error("holding \(partition): its fetch position left the log (\(error)); reset its stored offset (kafka-tool offsets reset) or run with OFFSET_ANOMALY=accept")
    }

    private func count(_ anomaly: OffsetAnomaly) {
        switch anomaly {
        case .beyondLogEnd: metrics.offsetsBeyondLogEnd.increment()
        case .beforeLogStart: metrics.offsetsBeforeLogStart.increment()
        }
        state.update { $0.stats.offsetAnomalies += 1 }
    }

    private func pauseNewlyHeld(_ consumer: KafkaConsumer) async {
        let unpaused = state.value.partitions.filter { $0.value.held != nil && !$0.value.paused }.map(\.key)
        guard !unpaused.isEmpty else { return }
        do {
            try await consumer.pause(unpaused)
            state.update { state in for partition in unpaused { state.partitions[partition]?.paused = true } }
        } catch {
            logger.warning("cannot pause held partitions \(unpaused): \(error)")
        }
    }

    /// Held partitions whose stored offset now fits the log (an operator reset it, or the log
    /// grew back to it) are released: seek to the stored offset + 1, resume.
    private func recheckHeldPartitions(_ consumer: KafkaConsumer) async {
        let held = state.value.partitions.filter { $0.value.held != nil }.map(\.key)
        guard !held.isEmpty else { return }
        let group = configuration.groupID
        do {
            let stored = try await database.read { connection in try OffsetStore.load(group: group, on: connection) }
            let marks = try consumer.queryWatermarks(held)
            var release: [TopicPartition: Int64] = [:]
            for partition in held {
                guard let marks = marks[partition] else { continue }
                let last = stored[partition] ?? -1
                let anomaly = last >= 0 ? OffsetAnomaly(lastProcessed: last, marks: marks) : nil
                if anomaly == nil { release[partition] = last }
            }
            state.update { state in
                for (partition, marks) in marks where state.partitions[partition]?.held != nil {
                    state.partitions[partition]?.heldMarks = marks
                }
            }
            guard !release.isEmpty else { return }
            try await consumer.seek(release.mapValues { $0 >= 0 ? $0 + 1 : KafkaConsumer.beginning })
            try await consumer.resume(Array(release.keys))
            state.update { state in
                for (partition, last) in release {
                    state.partitions[partition] = PartitionState(lastProcessed: last)
                }
            }
            for (partition, last) in release {
                logger.notice("released \(partition): its stored offset \(last) fits the log again")
            }
        } catch {
            logger.warning("cannot look at held partitions again: \(error)")
        }
    }

    // MARK: - report (readiness, GET /consumer)

    /// What the runtime knows about its partitions and whether it is healthy.
    public func report(now: ContinuousClock.Instant = .now) -> ConsumerReport {
        let (partitions, consumer, phase, batchSince) = state.update { ($0.partitions, $0.consumer, $0.phase, $0.batchSince) }
        let bound = configuration.stallBound
        var rows: [ConsumerReport.Partition] = []
        for (partition, value) in partitions.sorted(by: { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }) {
            let marks = consumer?.cachedWatermarks(partition) ?? value.heldMarks
            let waiting = value.waitingSince.map { now - $0 }
            rows.append(ConsumerReport.Partition(
                topic: partition.topic, partition: partition.partition, lastProcessedOffset: value.lastProcessed,
                logEnd: marks?.high, lag: marks.map { Self.lag(lastProcessed: value.lastProcessed, marks: $0) },
                held: value.held, stalled: waiting.map { $0 >= bound } ?? false))
        }
        var problems: [String] = []
        if phase != .running || partitions.isEmpty {
            problems.append("the consumer holds no partitions yet (joining its group, or Kafka unreachable)")
        }
        if let stall = processor.stall.current(now: now) {
            problems.append("a batch has failed for \(stall.failingFor.formattedSeconds) (\(stall.attempts) attempts): \(stall.reason)")
        } else if let batchSince, now - batchSince >= bound {
            problems.append("a batch has been in hand for \((now - batchSince).formattedSeconds) without committing (a handler or its transaction hangs)")
        }
        for row in rows {
            if let held = row.held { problems.append("\(row.topic)[\(row.partition)] is held: \(held)") }
            if row.stalled {
                problems.append("\(row.topic)[\(row.partition)] has lag \(row.lag ?? 0) and made no progress for more than \(bound.formattedSeconds)")
            }
        }
        return ConsumerReport(group: configuration.groupID, partitions: rows, problems: problems)
    }

    // MARK: - retention

    private func pruneInboxPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.inboxPruneInterval)
            if Task.isCancelled { return }
            do {
                _ = try await pruneInbox()
                _ = try await pruneSequences()
            } catch {
                logger.warning("pruning failed: \(error)")
            }
        }
    }

    /// Deletes inbox rows older than the retention, in chunks (short transactions); returns how many.
    @discardableResult
    public func pruneInbox() async throws -> Int {
        let group = configuration.groupID
        let cutoff = WallClock.nowMillis() - configuration.inboxRetention.milliseconds
        let total = try await pruneInChunks { connection in
            try InboxStore.prune(group: group, receivedBefore: cutoff, limit: 5000, on: connection)
        }
        if total > 0 {
            metrics.inboxPruned.increment(by: total)
            state.update { $0.stats.prunedInboxRows += total }
            logger.info("pruned \(total) inbox rows")
        }
        return total
    }

    /// Deletes the sequence rows of orders that emitted nothing within the sequence retention.
    @discardableResult
    public func pruneSequences() async throws -> Int {
        let cutoff = WallClock.nowMillis() - configuration.sequenceRetention.milliseconds
        let total = try await pruneInChunks { connection in
            try OutboxStore.pruneSequences(updatedBefore: cutoff, limit: 5000, on: connection)
        }
        if total > 0 {
            metrics.sequencesPruned.increment(by: total)
            logger.info("pruned \(total) outbox sequence rows")
        }
        return total
    }

    private func pruneInChunks(_ chunk: @escaping @Sendable (any SQLConnection) throws -> Int) async throws -> Int {
        var total = 0
        while true {
            let deleted = try await database.write(chunk)
            total += deleted
            if deleted < 5000 { return total }
        }
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

/// A stored offset the partition's log cannot continue from.
enum OffsetAnomaly: Equatable, CustomStringConvertible {
    case beyondLogEnd(lastProcessed: Int64, logEnd: Int64)
    case beforeLogStart(lastProcessed: Int64, logStart: Int64)

    init?(lastProcessed: Int64, marks: Watermarks) {
        if lastProcessed + 1 > marks.high {
            self = .beyondLogEnd(lastProcessed: lastProcessed, logEnd: marks.high)
        } else if lastProcessed + 1 < marks.low {
            self = .beforeLogStart(lastProcessed: lastProcessed, logStart: marks.low)
        } else {
            return nil
        }
    }

    var description: String {
        switch self {
        case let .beyondLogEnd(last, end):
            "the stored offset \(last) is beyond the log end \(end) (the topic was recreated, or the cluster lost its data)"
        case let .beforeLogStart(last, start):
            "the log starts at \(start), after the stored offset \(last): records \(last + 1)...\(start - 1) were deleted before they were processed"
        }
    }
}

/// What `ConsumerRuntime.report()` gives readiness and `GET /consumer`.
public struct ConsumerReport: Sendable {
    public struct Partition: Sendable, Codable, Equatable {
        public let topic: String
        public let partition: Int32
        public let lastProcessedOffset: Int64
        /// The log end as of the last fetch (nil before the first one).
        public let logEnd: Int64?
        public let lag: Int64?
        public let held: String?
        /// Lag without progress for longer than the stall bound.
        public let stalled: Bool
    }

    public let group: String
    /// The assigned partitions.
    public let partitions: [Partition]
    /// Why the consumer is not ready; empty when it is.
    public let problems: [String]
}

extension Duration {
    var formattedSeconds: String {
        let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return seconds < 10 ? String(format: "%.1f s", seconds) : "\(Int(seconds.rounded())) s"
    }
}
