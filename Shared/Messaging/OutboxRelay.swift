import EventSchema
import Foundation
import Kafka
import Locking
import Logging
import Persistence

/// Publishes the outbox: one per service process, woken after every commit.
///
/// Each round scans the oldest rows in id order (no "last published id" watermark: a row that
/// committed late with a lower id is simply among the rows read next time), sends them with the
/// idempotent producer, keyed by order id, and deletes exactly the rows the broker acknowledged.
/// Rows are settled one by one as their acknowledgements arrive, and up to `maxRowsInFlight`
/// are on the wire at once: a commit does not wait for earlier sends, and a row stuck on a
/// partition that cannot take writes holds back only its own key.
///
/// Per-key order: outbox ids follow sequence order per order (`UnitOfWork.emit`), and a round
/// takes at most one row per key: the oldest one, and only when no row of that key is in flight.
/// So a row is handed to the producer only after the previous row of its key was acknowledged,
/// and it cannot overtake it whatever fails. This matters: librdkafka rejects some records
/// before sending them (e.g. larger than `message.max.bytes`), or times them out, and goes on
/// with the next ones, so a later record of the same partition *can* be acknowledged after an
/// earlier one failed if both are enqueued together (measured:
/// `testAnUnpublishableRowHoldsBackOnlyItsKey`). A failed row blocks its key, with backoff, until
/// it gets through; the scan passes over blocked and in-flight keys (up to `scanLimit` rows) so
/// other keys flow. Sends fail after `sendTimeout` (no send waits forever), and any other error
/// that would leave a gap stops the producer (fatal), which the relay then replaces. Dead letters
/// have no order among themselves: each is a key of its own. The cost: n rows of one key take n
/// round trips; an order has a handful of events per topic.
///
/// Several instances (PostgreSQL): only the holder of the lease publishes, and its deletes are
/// fenced by the lease's epoch (see `RelayLease`). A holder that cannot reach the brokers for
/// `unreachableBound` while rows wait gives the lease up for another instance.
///
/// Scans on demand: a wake-up reads the outbox only when it may hold something to send now: a
/// commit since the last scan began, an acknowledgement or failure of a key the last scan passed
/// over, a scan that stopped before the end, a key's backoff running out, a new lease or
/// producer, or the fallback interval. Acknowledgements and deletes of keys nobody waits on cost
/// no read.
public final class OutboxRelay: @unchecked Sendable {
    public let configuration: RelayConfiguration
    private let database: any SQLDatabase
    private let hooks: RelayHooks
    private let logger: Logger
    private let metrics = RelayMetrics()
    private let lease: RelayLease
    private let wakeSignal = WakeSignal()
    private let deleteSignal = WakeSignal()
    private let state = Protected(Shared())

    /// What the publishing loop shares with the delivery callbacks, the deleter and readers.
    private struct Shared {
        var stopping = false
        var loopTask: Task<Void, Never>?
        var deleterTask: Task<Void, Never>?
        var producer: KafkaProducer?
        /// Acknowledged rows not deleted yet; scans skip them.
        var acknowledged: Set<Int64> = []
        /// The lease epoch the acknowledged rows were published under: deletes are fenced by it.
        var epoch: Int64?
        /// Rows whose send finished, waiting for the loop to settle them.
        var finished: [Finished] = []
        /// Set on shutdown once the publishing loop ended: the deleter finishes and returns.
        var publishingEnded = false
        /// When rows committed (µs), as reported by `committed(_:)`, until their ack.
        var commitTimes: [Int64: Int64] = [:]
        /// Counts `wake()` and `committed(_:)` calls: a scan is due when it moved since the last one began.
        var commits: UInt64 = 0
        var stats = RelayStatistics()
    }

    private struct Finished {
        let row: Row
        let failure: KafkaError?
        let ackedAtMicros: Int64
    }

    private static let maxTrackedCommits = 100_000

    public init(database: any SQLDatabase, configuration: RelayConfiguration, hooks: RelayHooks = RelayHooks(),
                logger: Logger = Logger(label: "messaging.relay")) {
        self.database = database
        self.configuration = configuration
        self.hooks = hooks
        self.logger = logger
        let holder = "\(ProcessInfo.processInfo.hostName)/\(getpid())/\(UUID().uuidString.prefix(8))"
        lease = RelayLease(database: database, name: configuration.leaseName, holder: holder, ttl: configuration.leaseTTL)
    }

    public var statistics: RelayStatistics { state.value.stats }

    /// Asks the relay to look at the outbox now (cheap; calls coalesce). Call after each commit
    /// that emitted events.
    public func wake() {
        state.update { $0.commits &+= 1 }
        wakeSignal.signal()
    }

    /// Tells the relay that the transaction which wrote these outbox rows has just committed,
    /// and wakes it. The commit→ack timer then starts at the commit rather than at the insert.
    public func committed(_ outboxIds: [Int64]) {
        let now = WallClock.nowMicros()
        state.update { state in
            state.commits &+= 1
            guard state.commitTimes.count + outboxIds.count <= Self.maxTrackedCommits else { return }
            for id in outboxIds { state.commitTimes[id] = now }
        }
        wakeSignal.signal()
    }

    /// Starts publishing in the background.
    public func start() {
        state.update { state in
            guard state.loopTask == nil, !state.stopping else { return }
            state.loopTask = Task { await self.publishLoop() }
            state.deleterTask = Task { await self.deleteLoop() }
        }
    }

    /// Stops after the rows in flight (a send stuck on an unreachable broker is cut after
    /// `shutdownGrace`; its rows stay in the outbox), deletes what was acknowledged, closes the
    /// producer and gives up the lease.
    public func shutdown() async {
        let (loop, deleter) = state.update { state -> (Task<Void, Never>?, Task<Void, Never>?) in
            state.stopping = true
            return (state.loopTask, state.deleterTask)
        }
        wakeSignal.signal()
        let grace = configuration.shutdownGrace
        let cutter = Task { [weak self] in
            try? await Task.sleep(for: grace)
            if !Task.isCancelled { await self?.closeProducer(flushTimeout: .zero) }
        }
        await loop?.value
        cutter.cancel()
        await closeProducer(flushTimeout: grace)
        state.update { $0.publishingEnded = true }
        deleteSignal.signal()
        await deleter?.value
        do { try await lease.release() } catch { logger.warning("cannot release the relay lease: \(error)") }
        metrics.leader.record(0)
        state.update { $0.stats.isLeader = false }
    }

    private var isStopping: Bool { state.value.stopping }

    // MARK: - rows

    private struct Row: Sendable {
        let id: Int64
        let createdAtMicros: Int64
        let message: OutgoingMessage

        /// What per-key order is kept for: the topic and key; a dead letter is a key of its own.
        var key: RowKey {
            message.topic == TopicCatalog.deadLetters.name ? .unordered(id) : .ordered(topic: message.topic, key: message.key)
        }
    }

    private enum RowKey: Hashable, Sendable {
        case ordered(topic: String, key: [UInt8]?)
        case unordered(Int64)
    }

    private struct Blocked {
        var failures: Int
        var retryAt: ContinuousClock.Instant
    }

    /// The loop's own state (only the loop task touches it).
    private struct LoopState {
        var epoch: Int64?
        var renewAt = ContinuousClock.now
        var leaseValidUntil = ContinuousClock.now
        var nextAcquire = ContinuousClock.now
        var nextStatistics = ContinuousClock.now
        var blocked: [RowKey: Blocked] = [:]
        /// Rows handed to the producer, by id, with their key and when.
        var inFlight: [Int64: (key: RowKey, since: ContinuousClock.Instant)] = [:]
        var inFlightKeys = Set<RowKey>()
        var readFailures = 0
        /// `Shared.commits` when the last scan began; nil forces a scan.
        var scannedAtCommits: UInt64?
        /// Keys the last scan passed over because a row of theirs was in flight: their settling is worth a scan.
        var passedOver = Set<RowKey>()
        /// When the next scan is due anyway: the fallback interval, or a blocked key's retry.
        var nextScan = ContinuousClock.now
        /// Passes of `settleFinished` that settled rows (what `RelayHooks.afterPublish` counts).
        var settlements = 0
        /// When this holder last had evidence the brokers answer: an ack, taking the lease, a new producer.
        var lastContact = ContinuousClock.now
        /// A send failed for a reason worth retrying since `lastContact` (a timeout, a broker error).
        var failedSinceContact = false

        var isLeader: Bool { epoch != nil }
    }

    // MARK: - the publishing loop

    private func publishLoop() async {
        var loop = LoopState()
        while !isStopping {
            await settleFinished(&loop)
            guard await holdsLease(&loop) else {
                await wakeSignal.wait(timeout: configuration.fallbackInterval)
                continue
            }
            if ContinuousClock.now >= loop.nextStatistics {
                await refreshStatistics()
                loop.nextStatistics = .now + configuration.statisticsInterval
            }
            if await surrenderedUnreachableLease(&loop) { continue }
            // All rows in flight, or far ahead of the deleter: wait for acks.
            if loop.inFlight.count >= configuration.maxRowsInFlight
                || state.value.acknowledged.count > 4 * configuration.batchSize {
                await wakeSignal.wait(timeout: configuration.fallbackInterval)
                continue
            }

            let commits = state.value.commits
            if commits == loop.scannedAtCommits, ContinuousClock.now < loop.nextScan {
                await wakeSignal.wait(timeout: max(.milliseconds(1), loop.nextScan - .now))
                continue
            }
            loop.scannedAtCommits = commits
            state.update { $0.stats.scans += 1 }
            let selection: Selection
            do {
                selection = try await selectRows(loop)
                loop.readFailures = 0
            } catch {
                loop.readFailures += 1
                loop.scannedAtCommits = nil
                logger.warning("cannot read the outbox: \(error)")
                await wakeSignal.wait(timeout: configuration.retry.delay(attempt: loop.readFailures))
                continue
            }
            loop.passedOver = selection.passedOver
            let fallback = ContinuousClock.now + configuration.fallbackInterval
            loop.nextScan = selection.earliestRetry.map { min($0, fallback) } ?? fallback
            // Rows beyond what this scan read may be sendable: look again once these are handed over.
            if selection.stoppedEarly && !selection.rows.isEmpty { loop.scannedAtCommits = nil }
            guard !selection.rows.isEmpty else { continue }
            // The scan took time: hand nothing over on a lease that may have run out meanwhile.
            guard ContinuousClock.now < loop.leaseValidUntil, let producer = await currentProducer(&loop) else {
                loop.scannedAtCommits = nil
                continue
            }
            send(selection.rows, with: producer, &loop)
        }
        // Let the rows in flight finish (shutdown closes the producer if they cannot), then
        // settle them so their acknowledged rows are deleted.
        while true {
            await settleFinished(&loop)
            if loop.inFlight.isEmpty { break }
            await wakeSignal.wait(timeout: .milliseconds(100))
        }
    }

    /// Scans the outbox in id order for rows to send now: the oldest row of each key that has
    /// nothing in flight, unless the key is blocked by a failure and its backoff is not over.
    /// Rows it must pass over do not stop the scan, up to `scanLimit` rows.
    private struct Selection {
        var rows: [Row] = []
        var earliestRetry: ContinuousClock.Instant?
        /// Keys with a row passed over because an earlier row of the key is in flight, selected or backing off.
        var passedOver = Set<RowKey>()
        /// The scan ended at `batchSize` or `scanLimit`, not at the end of the outbox.
        var stoppedEarly = false
    }

    private func selectRows(_ loop: LoopState) async throws -> Selection {
        let hidden = state.value.acknowledged
        let page = configuration.batchSize
        var selection = Selection()
        var taken = loop.inFlightKeys
        var cursor: Int64 = 0
        var scanned = 0
        let now = ContinuousClock.now
        while selection.rows.count < configuration.batchSize && scanned < configuration.scanLimit {
            let after = cursor
            let rows = try await database.read { try OutboxStore.scan(after: after, limit: page, on: $0) }
            for scanned in rows {
                guard let id = scanned.id else { continue }
                cursor = id
                guard !hidden.contains(id), loop.inFlight[id] == nil, let row = decode(scanned, id: id) else { continue }
                let key = row.key
                guard taken.insert(key).inserted else {
                    selection.passedOver.insert(key)
                    continue
                }
                if let blocked = loop.blocked[key], blocked.retryAt > now {
                    selection.earliestRetry = min(selection.earliestRetry ?? blocked.retryAt, blocked.retryAt)
                    continue
                }
                selection.rows.append(row)
                if selection.rows.count == configuration.batchSize { break }
            }
            scanned += rows.count
            if rows.count < page { return selection }
        }
        selection.stoppedEarly = true
        return selection
    }

    private func decode(_ scanned: OutboxStore.ScannedRow, id: Int64) -> Row? {
        guard let message = scanned.message() else {
            logger.critical("outbox row \(id) is malformed; leaving it in place")
            return nil
        }
        return Row(id: id, createdAtMicros: scanned.createdAtMicros, message: message)
    }

    /// Hands the rows to the producer; each is settled on its own delivery report.
    private func send(_ rows: [Row], with producer: KafkaProducer, _ loop: inout LoopState) {
        let now = ContinuousClock.now
        for row in rows {
            loop.inFlight[row.id] = (row.key, now)
            loop.inFlightKeys.insert(row.key)
        }
        var messages = rows.map(\.message)
        // While tracing, each send is a producer span and the record carries its context.
        var traces: [PublishTrace]?
        if MessageTracing.isEnabled {
            traces = rows.indices.map { index in
                let (trace, traced) = PublishTrace.start(messages[index], outboxId: rows[index].id,
                                                         createdAtMicros: rows[index].createdAtMicros)
                messages[index] = traced
                return trace
            }
        }
        // Not awaited: enqueueing waits while librdkafka's queue is full, and the loop must stay
        // free to renew (or give up) the lease meanwhile.
        Task { [weak self, messages, traces] in
            _ = await producer.enqueue(messages) { [weak self] index, result in
                traces?[index].end(result)
                var failure: KafkaError?
                if case .failure(let error) = result { failure = error }
                self?.finished(Finished(row: rows[index], failure: failure, ackedAtMicros: WallClock.nowMicros()))
            }
        }
    }

    private func finished(_ row: Finished) {
        state.update { $0.finished.append(row) }
        wakeSignal.signal()
    }

    /// Records the outcome of finished rows: acknowledged rows go to the deleter, failed rows
    /// block their keys.
    private func settleFinished(_ loop: inout LoopState) async {
        let (rows, commitTimes) = state.update { state -> ([Finished], [Int64: Int64]) in
            defer { state.finished.removeAll() }
            var times: [Int64: Int64] = [:]
            for finished in state.finished {
                if let time = state.commitTimes.removeValue(forKey: finished.row.id) { times[finished.row.id] = time }
            }
            return (state.finished, times)
        }
        guard !rows.isEmpty else { return }
        let now = ContinuousClock.now
        var acked: [Int64] = []
        var latencies: [Int64] = []
        var failed: [KafkaError] = []
        var replaceProducer = false
        for finished in rows {
            let row = finished.row
            // A row settled after its lease was lost (purged) is not in flight any more.
            guard loop.inFlight.removeValue(forKey: row.id) != nil else { continue }
            loop.inFlightKeys.remove(row.key)
            if loop.passedOver.remove(row.key) != nil { loop.scannedAtCommits = nil }
            if let failure = finished.failure {
                let failures = (loop.blocked[row.key]?.failures ?? 0) + 1
                let retryAt = now + configuration.retry.delay(attempt: failures)
                loop.blocked[row.key] = Blocked(failures: failures, retryAt: retryAt)
                loop.nextScan = min(loop.nextScan, retryAt)
                if failure.isRetriable { loop.failedSinceContact = true }
                if !failure.isRetriable && !isStopping {
                    logger.error("outbox row \(row.id) (\(row.message.topic)) cannot be published and holds back its key: \(failure)")
                }
                replaceProducer = replaceProducer || failure.isFatal
                failed.append(failure)
            } else {
                acked.append(row.id)
                loop.blocked[row.key] = nil
                loop.lastContact = now
                loop.failedSinceContact = false
                let latency = max(0, finished.ackedAtMicros - (commitTimes[row.id] ?? row.createdAtMicros))
                latencies.append(latency)
                metrics.commitToAck.recordMicroseconds(latency)
                metrics.published(topic: row.message.topic).increment()
            }
        }
        if !failed.isEmpty {
            metrics.failures.increment(by: failed.count)
            if !isStopping {
                logger.warning("\(failed.count) outbox rows not published, their keys held back: \(failed[0])")
            }
        }
        if !latencies.isEmpty { hooks.onAcknowledged?(latencies) }
        loop.settlements += 1
        hooks.afterPublish?(loop.settlements)
        let epoch = loop.epoch
        state.update { state in
            state.acknowledged.formUnion(acked)
            if !acked.isEmpty { state.epoch = epoch }
            state.stats.batches += 1
            state.stats.published += acked.count
            state.stats.failed += failed.count
        }
        if !acked.isEmpty { deleteSignal.signal() }
        if replaceProducer && !isStopping {
            logger.error("producer failed fatally; replacing it and republishing from the outbox")
            await dropInFlight(&loop)
        }
    }

    // MARK: - the lease

    /// Takes or renews the lease when due; true while this relay may publish.
    private func holdsLease(_ loop: inout LoopState) async -> Bool {
        let now = ContinuousClock.now
        guard (loop.isLeader && now >= loop.renewAt) || (!loop.isLeader && now >= loop.nextAcquire) else {
            return loop.isLeader && now < loop.leaseValidUntil
        }
        do {
            let epoch = try await lease.acquire()
            if epoch != nil, !loop.isLeader {
                logger.info("relay lease acquired (epoch \(epoch!)): publishing")
                loop.lastContact = .now
                loop.failedSinceContact = false
            }
            if epoch == nil, loop.isLeader {
                logger.notice("relay lease taken over by another instance: standing by")
                await dropInFlight(&loop)
            }
            if epoch != loop.epoch { loop.scannedAtCommits = nil }
            setLeader(epoch, &loop)
            loop.renewAt = now + configuration.leaseTTL / 3
            loop.leaseValidUntil = now + configuration.leaseTTL
            loop.nextAcquire = now + min(configuration.leaseTTL / 4, .seconds(1))
        } catch {
            logger.warning("cannot renew the relay lease: \(error)")
            if loop.isLeader && ContinuousClock.now >= loop.leaseValidUntil {
                logger.notice("relay lease ran out without a renewal: standing by")
                await dropInFlight(&loop)
                setLeader(nil, &loop)
            }
            loop.nextAcquire = .now + .seconds(1)
            loop.renewAt = loop.nextAcquire
        }
        return loop.isLeader && ContinuousClock.now < loop.leaseValidUntil
    }

    private func setLeader(_ epoch: Int64?, _ loop: inout LoopState) {
        if (epoch != nil) != loop.isLeader { metrics.leader.record(epoch != nil ? 1 : 0) }
        loop.epoch = epoch
        state.update { $0.stats.isLeader = epoch != nil }
    }

    /// A holder that has rows waiting and heard nothing from the brokers for `unreachableBound`
    /// (sends timing out or hanging) gives the lease up and stands by for a lease period, so that
    /// an instance that can reach the brokers publishes. Alone (SQLite) it takes it back after.
    private func surrenderedUnreachableLease(_ loop: inout LoopState) async -> Bool {
        let now = ContinuousClock.now
        let waiting = !loop.inFlight.isEmpty || loop.failedSinceContact
        let silent = now - loop.lastContact
        state.update { $0.stats.unreachableSeconds = waiting ? silent.seconds : 0 }
        guard waiting, silent >= configuration.unreachableBound, !isStopping else { return false }
        logger.error("no broker acknowledged anything for \(silent.formattedSeconds) while rows wait: giving the relay lease up")
        metrics.surrenders.increment()
        await dropInFlight(&loop)
        do { try await lease.release() } catch { logger.warning("cannot release the relay lease: \(error)") }
        setLeader(nil, &loop)
        loop.nextAcquire = now + configuration.leaseTTL
        state.update { $0.stats.surrenders += 1 }
        return true
    }

    /// Closes the producer (what it still held is purged: those rows stay in the outbox and go
    /// out again, in order) and forgets the rows in flight.
    private func dropInFlight(_ loop: inout LoopState) async {
        await closeProducer(flushTimeout: .zero)
        loop.inFlight.removeAll()
        loop.inFlightKeys.removeAll()
        loop.passedOver.removeAll()
        loop.scannedAtCommits = nil
        loop.failedSinceContact = false
        loop.lastContact = .now
        state.update { $0.finished.removeAll() }
    }

    private func currentProducer(_ loop: inout LoopState) async -> KafkaProducer? {
        if let producer = state.value.producer { return producer }
        var attempt = 0
        while !isStopping {
            do {
                var properties = configuration.kafka.merging(
                    configuration.producerProperties.filter { configuration.kafka[$0.key] == nil })
                // One configuration often serves consumer and relay; librdkafka warns about the other side's keys.
                for key in RelayConfiguration.consumerOnlyProperties { properties.properties[key] = nil }
                let created = try KafkaProducer(configuration: properties, logger: logger)
                state.update { $0.producer = created }
                loop.lastContact = .now
                return created
            } catch {
                attempt += 1
                logger.error("cannot create the relay's producer: \(error)")
                try? await Task.sleep(for: configuration.retry.delay(attempt: attempt))
            }
        }
        return nil
    }

    private func closeProducer(flushTimeout: Duration) async {
        guard let producer = state.update({ state -> KafkaProducer? in
            defer { state.producer = nil }
            return state.producer
        }) else { return }
        await producer.close(flushTimeout: flushTimeout)
    }

    // MARK: - deleting acknowledged rows (off the publishing path)

    /// Deletes rows the broker acknowledged, fenced by the lease epoch they were published
    /// under (`OutboxStore.deletePublished`): a holder whose lease moved on (it stalled and
    /// another instance took over) deletes nothing, and the new holder publishes and deletes them.
    private func deleteLoop() async {
        var failures = 0
        while true {
            let (ids, epoch, finishing) = state.update { (Array($0.acknowledged), $0.epoch, $0.publishingEnded) }
            guard let epoch, !ids.isEmpty else {
                if finishing { return }
                await deleteSignal.wait(timeout: configuration.fallbackInterval)
                continue
            }
            do {
                let lease = self.lease
                let deleted = try await database.write { connection in
                    try OutboxStore.deletePublished(ids, epoch: epoch, lease: lease, on: connection)
                }
                failures = 0
                if deleted < ids.count {
                    // Fenced: another holder took the lease (or deleted the rows it published too).
                    logger.notice("deleted \(deleted) of \(ids.count) published outbox rows: the lease (epoch \(epoch)) moved on; the new holder publishes and deletes the rest")
                }
                state.update { state in
                    state.acknowledged.subtract(ids)
                    state.stats.deletedRows += deleted
                }
                wakeSignal.signal()
            } catch {
                failures += 1
                logger.warning("cannot delete \(ids.count) published outbox rows (they stay hidden from this relay): \(error)")
                if finishing && failures >= 3 { return }
                try? await Task.sleep(for: configuration.retry.delay(attempt: failures))
            }
        }
    }

    // MARK: - lag figures and readiness

    private func refreshStatistics() async {
        do {
            let backlog = try await database.read { try OutboxStore.backlog(on: $0) }
            let cutoff = WallClock.nowMicros() - 60_000_000
            let hidden = state.update { state -> Int in
                // Rows published by another instance never reach our acks.
                if !state.commitTimes.isEmpty { state.commitTimes = state.commitTimes.filter { $0.value > cutoff } }
                return state.acknowledged.count
            }
            let waiting = max(0, Int(backlog?.waiting ?? 0) - hidden)
            let age = waiting == 0 ? 0 : backlog?.oldestCreatedAtMicros.map { max(0, Double(WallClock.nowMicros() - $0) / 1e6) } ?? 0
            metrics.pendingRows.record(waiting)
            metrics.oldestAge.record(age)
            state.update { state in
                state.stats.pendingRows = waiting
                state.stats.oldestAgeSeconds = age
            }
        } catch {
            logger.debug("cannot read outbox statistics: \(error)")
        }
    }

    /// Why the relay is not doing its job, for readiness; empty when it is (or stands by).
    public var problems: [String] {
        let stats = statistics
        guard stats.isLeader else { return [] }
        var problems: [String] = []
        if stats.unreachableSeconds >= configuration.unreachableBound.seconds {
            problems.append("the relay holds the lease but no broker acknowledged anything for \(Int(stats.unreachableSeconds)) s")
        }
        if stats.oldestAgeSeconds >= configuration.stallBound.seconds {
            problems.append("the oldest outbox row waits for \(Int(stats.oldestAgeSeconds)) s (\(stats.pendingRows) rows waiting)")
        }
        return problems
    }
}
