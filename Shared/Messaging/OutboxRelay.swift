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
///
/// Deletes (`OutboxRelay+Deleting.swift`): on PostgreSQL the next scan deletes what was
/// acknowledged since the last delete in its own statement, which saves a round trip per round;
/// a deleter deletes what no scan took within `RelayConfiguration.deleteDelay`. Scans and deletes
/// are single statements, sent outside a transaction (`SQLDatabase.oneStatement`).
///
/// The decisions are `RelayStateMachine`'s; this class carries them out (the database, the
/// producer, the lease, the wake-ups) and keeps the statistics, from which the metrics follow.
public final class OutboxRelay: @unchecked Sendable {
    public let configuration: RelayConfiguration
    let database: any SQLDatabase
    private let hooks: RelayHooks
    let logger: Logger
    let metrics = RelayMetrics()
    let lease: RelayLease
    /// `RelayConfiguration.deleteDelay`, resolved for this database's backend.
    let deleteDelay: Duration
    let wakeSignal = WakeSignal()
    let deleteSignal = WakeSignal()
    let state = Protected(Shared())

    /// What the publishing loop shares with the delivery callbacks, the deleter and readers.
    struct Shared {
        var stopping = false
        var loopTask: Task<Void, Never>?
        var deleterTask: Task<Void, Never>?
        var producer: KafkaProducer?
        /// Acknowledged rows not deleted yet; scans skip them.
        var acknowledged: Set<Int64> = []
        /// Of `acknowledged`, the rows a delete in progress holds (a scan's or the deleter's).
        var deleting: Set<Int64> = []
        /// Rows deleted since the last vacuum of the outbox.
        var deletedSinceVacuum = 0
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

    struct Finished {
        let row: RelayRow
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
        deleteDelay = configuration.effectiveDeleteDelay(for: database.dialect)
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
        count { $0.isLeader = false }
    }

    var isStopping: Bool { state.value.stopping }

    /// Every change to the statistics goes through here; the metrics follow from the change.
    func count(_ change: (inout RelayStatistics) -> Void) {
        let (old, new) = state.update { state -> (RelayStatistics, RelayStatistics) in
            let old = state.stats
            change(&state.stats)
            return (old, state.stats)
        }
        metrics.advance(from: old, to: new)
    }

    // MARK: - the publishing loop

    private func publishLoop() async {
        var machine = RelayStateMachine(configuration: configuration, now: .now)
        while true {
            if isStopping && !machine.isStopping { machine.shutdownRequested() }
            await settleFinished(&machine)
            let (commits, undeleted) = state.update { ($0.commits, $0.acknowledged.count) }
            let action = machine.nextAction(now: .now, commits: commits, undeleted: undeleted)
            if case .stop = action { return }
            await perform(action, &machine)
            let (leader, unreachable, stats) = (machine.isLeader, machine.unreachableFor.seconds, statistics)
            if stats.isLeader != leader || stats.unreachableSeconds != unreachable {
                count {
                    $0.isLeader = leader
                    $0.unreachableSeconds = unreachable
                }
            }
        }
    }

    private func perform(_ action: RelayStateMachine.Action, _ machine: inout RelayStateMachine) async {
        switch action {
        case .stop:
            return
        case .wait(let until):
            await wakeSignal.wait(timeout: max(.milliseconds(1), until - .now))
        case .acquireLease:
            await renewLease(&machine)
        case .refreshStatistics:
            await refreshStatistics()
        case .surrender(let silent):
            logger.error("no broker acknowledged anything for \(silent.formattedSeconds) while rows wait: giving the relay lease up")
            await dropProducer()
            do { try await lease.release() } catch { logger.warning("cannot release the relay lease: \(error)") }
            count { $0.surrenders += 1 }
        case .scan:
            count { $0.scans += 1 }
            var selection = machine.beginScan(now: .now, hidden: state.value.acknowledged)
            do {
                try await read(into: &selection)
            } catch {
                logger.warning("cannot read the outbox: \(error)")
                await perform(machine.scanFailed(now: .now), &machine)
                return
            }
            if let next = machine.scanned(selection, now: .now) { await perform(next, &machine) }
        case .send(let rows):
            guard let producer = await currentProducer() else {
                machine.notHandedOver()
                return
            }
            machine.handedOver(rows, now: .now, toNewProducer: producer.isNew)
            send(rows, with: producer.producer)
        }
    }

    /// Reads the outbox in id order, page after page, offering the rows to the selection. The
    /// first page also deletes the rows acknowledged since the last delete, in the same statement,
    /// unless the configuration leaves every delete to the deleter.
    private func read(into selection: inout RowSelection) async throws {
        let page = configuration.batchSize
        var deletion = deleteDelay > .zero ? claimDeletion() : nil
        var cursor: Int64 = 0
        var more = true
        while more {
            let after = cursor
            let rows: [OutboxStore.ScannedRow]
            if let claimed = deletion {
                deletion = nil
                rows = try await delete(claimed, scanningAfter: (after, page))
            } else {
                rows = try await database.oneStatement(readOnly: true) { try OutboxStore.scan(after: after, limit: page, on: $0) }
            }
            for scanned in rows {
                guard let id = scanned.id else { continue }
                cursor = id
                guard selection.considers(id), let row = decode(scanned, id: id) else { continue }
                if !selection.offer(row) { break }
            }
            more = selection.pageRead(rows.count, of: page)
        }
    }

    private func decode(_ scanned: OutboxStore.ScannedRow, id: Int64) -> RelayRow? {
        guard let message = scanned.message() else {
            logger.critical("outbox row \(id) is malformed; leaving it in place")
            return nil
        }
        return RelayRow(id: id, createdAtMicros: scanned.createdAtMicros, message: message)
    }

    /// Hands the rows to the producer; each is settled on its own delivery report.
    private func send(_ rows: [RelayRow], with producer: KafkaProducer) {
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

    /// Settles finished sends: acknowledged rows go to the deleter, failed rows block their keys.
    private func settleFinished(_ machine: inout RelayStateMachine) async {
        let (rows, commitTimes) = state.update { state -> ([Finished], [Int64: Int64]) in
            defer { state.finished.removeAll() }
            var times: [Int64: Int64] = [:]
            for finished in state.finished {
                if let time = state.commitTimes.removeValue(forKey: finished.row.id) { times[finished.row.id] = time }
            }
            return (state.finished, times)
        }
        let deliveries = rows.map { finished -> (row: RelayRow, delivery: RelayStateMachine.Delivery) in
            let delivery = finished.failure.map { RelayStateMachine.Delivery.failed(retriable: $0.isRetriable, fatal: $0.isFatal) }
            return (finished.row, delivery ?? .acknowledged)
        }
        guard let settlement = machine.settle(deliveries, now: .now) else { return }
        let acknowledged = Set(settlement.acknowledged)
        let failed = Set(settlement.failed)
        var latencies: [Int64] = []
        var publishedByTopic: [String: Int] = [:]
        var failures: [KafkaError] = []
        for finished in rows {
            let row = finished.row
            if acknowledged.contains(row.id) {
                let latency = max(0, finished.ackedAtMicros - (commitTimes[row.id] ?? row.createdAtMicros))
                latencies.append(latency)
                metrics.commitToAck.recordMicroseconds(latency)
                publishedByTopic[row.message.topic, default: 0] += 1
            } else if let failure = finished.failure, failed.contains(row.id) {
                failures.append(failure)
                if !failure.isRetriable && !isStopping {
                    logger.error("outbox row \(row.id) (\(row.message.topic)) cannot be published and holds back its key: \(failure)")
                }
            }
        }
        if !failures.isEmpty && !isStopping {
            logger.warning("\(failures.count) outbox rows not published, their keys held back: \(failures[0])")
        }
        if !latencies.isEmpty { hooks.onAcknowledged?(latencies) }
        hooks.afterPublish?(settlement.round)
        if let deletion = settlement.deletion {
            state.update { state in
                state.acknowledged.formUnion(deletion.ids)
                state.epoch = deletion.epoch
            }
        }
        count { stats in
            stats.batches += 1
            stats.publishedByTopic.merge(publishedByTopic, uniquingKeysWith: +)
            stats.failed += failures.count
        }
        if settlement.deletion != nil { deleteSignal.signal() }
        if settlement.replaceProducer {
            logger.error("producer failed fatally; replacing it and republishing from the outbox")
            await dropProducer()
        }
    }

    // MARK: - the lease and the producer

    private func renewLease(_ machine: inout RelayStateMachine) async {
        let requestedAt = ContinuousClock.now
        let change: RelayStateMachine.LeaseChange
        do {
            let epoch = try await lease.acquire()
            change = machine.leaseAcquired(epoch, requestedAt: requestedAt, now: .now)
        } catch {
            logger.warning("cannot renew the relay lease: \(error)")
            change = machine.leaseFailed(now: .now)
        }
        switch change {
        case .none:
            break
        case .acquired(let epoch):
            logger.info("relay lease acquired (epoch \(epoch)): publishing")
        case .takenOver:
            logger.notice("relay lease taken over by another instance: standing by")
            await dropProducer()
        case .ranOut:
            logger.notice("relay lease ran out without a renewal: standing by")
            await dropProducer()
        }
    }

    /// Closes the producer (what it still held is purged: those rows stay in the outbox and go
    /// out again, in order) and forgets the sends that finished meanwhile.
    private func dropProducer() async {
        await closeProducer(flushTimeout: .zero)
        state.update { $0.finished.removeAll() }
    }

    /// The producer, and whether it was created just now; nil only when stopping.
    private func currentProducer() async -> (producer: KafkaProducer, isNew: Bool)? {
        if let producer = state.value.producer { return (producer, false) }
        var attempt = 0
        while !isStopping {
            do {
                var properties = configuration.kafka.merging(
                    configuration.producerProperties.filter { configuration.kafka[$0.key] == nil })
                // One configuration often serves consumer and relay; librdkafka warns about the other side's keys.
                for key in RelayConfiguration.consumerOnlyProperties { properties.properties[key] = nil }
                let created = try KafkaProducer(configuration: properties, logger: logger)
                state.update { $0.producer = created }
                return (created, true)
            } catch {
                attempt += 1
                logger.error("cannot create the relay's producer: \(error)")
                try? await Task.sleep(for: configuration.retry.delay(attempt: attempt))
            }
        }
        return nil
    }

    func closeProducer(flushTimeout: Duration) async {
        guard let producer = state.update({ state -> KafkaProducer? in
            defer { state.producer = nil }
            return state.producer
        }) else { return }
        await producer.close(flushTimeout: flushTimeout)
    }
}
