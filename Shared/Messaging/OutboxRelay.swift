import Foundation
import Kafka
import Logging
import Persistence

/// Publishes the outbox: one per service process, woken after every commit.
///
/// Each round reads the oldest rows in id order (no "last published id" watermark: a row that
/// committed late with a lower id is simply among the rows read next time), sends them with the
/// idempotent producer, keyed by order id, and deletes exactly the rows the broker acknowledged.
/// Up to `maxRoundsInFlight` rounds are on the wire at once, over disjoint keys: a commit does
/// not wait for the acks of the previous round before its rows go out.
///
/// Per-key order: outbox ids follow sequence order per order (`UnitOfWork.emit`), and a round
/// takes at most one row per key: the oldest one, and only when no row of that key is in flight.
/// So a row is handed to the producer only after the previous row of its key was acknowledged,
/// and it cannot overtake it whatever fails. This matters: librdkafka rejects some records
/// before sending them (e.g. larger than `message.max.bytes`) and goes on with the next ones, so
/// a later record of the same partition *can* be acknowledged after an earlier one failed if
/// both are enqueued together (measured: `testAnUnpublishableRowHoldsBackOnlyItsKey`). A failed
/// row blocks its key, with backoff, until it gets through; other keys flow. The producer
/// settings in `RelayConfiguration.producerDefaults` (no local timeout, gapless guarantee) keep
/// the broker side equally strict: an outage delays sends instead of failing them, and any other
/// error that would leave a gap stops the producer (fatal), which the relay then replaces.
/// The cost: n rows of one key take n round trips; an order has a handful of events per topic.
///
/// Several instances (PostgreSQL): only the holder of the lease publishes (see `RelayLease`).
public final class OutboxRelay: @unchecked Sendable {
    public let configuration: RelayConfiguration
    private let database: any SQLDatabase
    private let hooks: RelayHooks
    private let logger: Logger
    private let metrics = RelayMetrics()
    private let lease: RelayLease
    private let wakeSignal = WakeSignal()
    private let deleteSignal = WakeSignal()
    private let deletedSignal = WakeSignal()

    private let lock = NSLock()
    private var stopping = false
    private var loopTask: Task<Void, Never>?
    private var deleterTask: Task<Void, Never>?
    private var producer: KafkaProducer?
    /// Acknowledged rows not deleted yet; reads skip them.
    private var acknowledged: Set<Int64> = []
    /// Rounds whose sends finished, waiting for the loop to settle them.
    private var finishedRounds: [Round] = []
    /// Set on shutdown once the publishing loop ended: the deleter finishes and returns.
    private var publishingEnded = false
    /// When rows committed (µs), as reported by `committed(_:)`, until their ack.
    private var commitTimes: [Int64: Int64] = [:]
    private static let maxTrackedCommits = 100_000
    private var stats = RelayStatistics()

    public init(database: any SQLDatabase, configuration: RelayConfiguration, hooks: RelayHooks = RelayHooks(),
                logger: Logger = Logger(label: "messaging.relay")) {
        self.database = database
        self.configuration = configuration
        self.hooks = hooks
        self.logger = logger
        let holder = "\(ProcessInfo.processInfo.hostName)/\(getpid())/\(UUID().uuidString.prefix(8))"
        lease = RelayLease(database: database, name: configuration.leaseName, holder: holder, ttl: configuration.leaseTTL)
    }

    public var statistics: RelayStatistics { lock.withLock { stats } }

    /// Asks the relay to look at the outbox now (cheap; calls coalesce). Call after each commit
    /// that emitted events.
    public func wake() { wakeSignal.signal() }

    /// Tells the relay that the transaction which wrote these outbox rows has just committed,
    /// and wakes it. The commit→ack timer then starts at the commit rather than at the insert.
    public func committed(_ outboxIds: [Int64]) {
        let now = WallClock.nowMicros()
        lock.withLock {
            guard commitTimes.count + outboxIds.count <= Self.maxTrackedCommits else { return }
            for id in outboxIds { commitTimes[id] = now }
        }
        wakeSignal.signal()
    }

    /// Starts publishing in the background.
    public func start() {
        lock.withLock {
            guard loopTask == nil, !stopping else { return }
            loopTask = Task { await self.publishLoop() }
            deleterTask = Task { await self.deleteLoop() }
        }
    }

    /// Stops after the rounds in flight (a send stuck on an unreachable broker is cut after
    /// `shutdownGrace`; its rows stay in the outbox), deletes what was acknowledged, closes the
    /// producer and gives up the lease.
    public func shutdown() async {
        let (loop, deleter) = lock.withLock { () -> (Task<Void, Never>?, Task<Void, Never>?) in
            stopping = true
            return (loopTask, deleterTask)
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
        lock.withLock { publishingEnded = true }
        deleteSignal.signal()
        await deleter?.value
        do { try await lease.release() } catch { logger.warning("cannot release the relay lease: \(error)") }
        metrics.leader.record(0)
        lock.withLock { stats.isLeader = false }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    // MARK: - rows and rounds

    private struct Row: Sendable {
        let id: Int64
        let createdAtMicros: Int64
        let message: OutgoingMessage
        var key: RowKey { RowKey(topic: message.topic, key: message.key) }
    }

    private struct RowKey: Hashable, Sendable {
        let topic: String
        let key: [UInt8]?
    }

    /// One send: its rows and, once finished, each row's error text (nil = acknowledged).
    private struct Round: Sendable {
        let rows: [Row]
        var failures: [String?] = []
        var fatal = false
        var ackedAtMicros: Int64 = 0
    }

    private struct Blocked {
        var failures: Int
        var retryAt: ContinuousClock.Instant
    }

    /// The loop's own state (only the loop task touches it).
    private struct LoopState {
        var leader = false
        var renewAt = ContinuousClock.now
        var leaseValidUntil = ContinuousClock.now
        var nextAcquire = ContinuousClock.now
        var nextStatistics = ContinuousClock.now
        var blocked: [RowKey: Blocked] = [:]
        var inFlightIds = Set<Int64>()
        var inFlightKeys = Set<RowKey>()
        var roundsInFlight = 0
        var readFailures = 0
        var settledRounds = 0
    }

    // MARK: - the publishing loop

    private func publishLoop() async {
        var state = LoopState()
        while !isStopping {
            await settleFinishedRounds(&state)
            guard await holdsLease(&state) else {
                await wakeSignal.wait(timeout: configuration.fallbackInterval)
                continue
            }
            if ContinuousClock.now >= state.nextStatistics {
                await refreshStatistics()
                state.nextStatistics = .now + configuration.statisticsInterval
            }
            // All rounds in flight, or far ahead of the deleter: wait for a round to finish.
            if state.roundsInFlight >= configuration.maxRoundsInFlight
                || lock.withLock({ acknowledged.count }) > 4 * configuration.batchSize {
                await wakeSignal.wait(timeout: configuration.fallbackInterval)
                continue
            }

            let rows: [Row]
            do {
                rows = try await readRows(excluding: state.inFlightIds)
                state.readFailures = 0
            } catch {
                state.readFailures += 1
                logger.warning("cannot read the outbox: \(error)")
                await wakeSignal.wait(timeout: configuration.retry.delay(attempt: state.readFailures))
                continue
            }
            let (sending, earliestRetry) = select(rows, state: state)
            guard !sending.isEmpty else {
                var wait = configuration.fallbackInterval
                if let earliestRetry { wait = min(wait, max(.milliseconds(1), earliestRetry - .now)) }
                await wakeSignal.wait(timeout: wait)
                continue
            }
            guard let producer = await currentProducer() else { continue }
            for row in sending {
                state.inFlightIds.insert(row.id)
                state.inFlightKeys.insert(row.key)
            }
            state.roundsInFlight += 1
            Task { [weak self] in
                let round = await Self.send(sending, with: producer)
                self?.finished(round)
            }
        }
        // Let the rounds in flight finish (shutdown closes the producer if they cannot), then
        // settle them so their acknowledged rows are deleted.
        while true {
            await settleFinishedRounds(&state)
            if state.roundsInFlight == 0 { break }
            await wakeSignal.wait(timeout: .milliseconds(100))
        }
    }

    /// Rows to send now: the oldest row of each key that has nothing in flight, unless the key is
    /// blocked by a failure and its backoff is not over.
    private func select(_ rows: [Row], state: LoopState) -> (rows: [Row], earliestRetry: ContinuousClock.Instant?) {
        var sending: [Row] = []
        var taken = state.inFlightKeys
        var earliestRetry: ContinuousClock.Instant?
        let now = ContinuousClock.now
        for row in rows {
            let key = row.key
            guard taken.insert(key).inserted else { continue }
            if let blocked = state.blocked[key], blocked.retryAt > now {
                earliestRetry = min(earliestRetry ?? blocked.retryAt, blocked.retryAt)
                continue
            }
            sending.append(row)
        }
        return (sending, earliestRetry)
    }

    private static func send(_ rows: [Row], with producer: KafkaProducer) async -> Round {
        var round = Round(rows: rows)
        var fatal = false
        do {
            round.failures = try await producer.send(rows.map(\.message)).map { result in
                guard case .failure(let error) = result else { return nil }
                if error.name == "_FATAL" || error.name == "_GAPLESS_GUARANTEE" { fatal = true }
                return "\(error)"
            }
        } catch {
            round.failures = rows.map { _ in "\(error)" }
        }
        round.fatal = fatal
        round.ackedAtMicros = WallClock.nowMicros()
        return round
    }

    private func finished(_ round: Round) {
        lock.withLock { finishedRounds.append(round) }
        wakeSignal.signal()
    }

    /// Records the outcome of finished rounds: acknowledged rows go to the deleter, failed
    /// rows block their keys.
    private func settleFinishedRounds(_ state: inout LoopState) async {
        let rounds = lock.withLock { () -> [Round] in
            defer { finishedRounds.removeAll() }
            return finishedRounds
        }
        var replaceProducer = false
        for round in rounds {
            state.roundsInFlight -= 1
            state.settledRounds += 1
            let commitTimes = lock.withLock { () -> [Int64: Int64] in
                var found: [Int64: Int64] = [:]
                for row in round.rows { if let time = self.commitTimes.removeValue(forKey: row.id) { found[row.id] = time } }
                return found
            }
            let failedAt = ContinuousClock.now
            var acked: [Int64] = []
            var latencies: [Int64] = []
            latencies.reserveCapacity(round.rows.count)
            var firstError: String?
            for (row, failure) in zip(round.rows, round.failures) {
                state.inFlightIds.remove(row.id)
                state.inFlightKeys.remove(row.key)
                if let failure {
                    let failures = (state.blocked[row.key]?.failures ?? 0) + 1
                    state.blocked[row.key] = Blocked(failures: failures,
                                                     retryAt: failedAt + configuration.retry.delay(attempt: failures))
                    firstError = firstError ?? failure
                } else {
                    acked.append(row.id)
                    state.blocked[row.key] = nil
                    let latency = max(0, round.ackedAtMicros - (commitTimes[row.id] ?? row.createdAtMicros))
                    latencies.append(latency)
                    metrics.commitToAck.recordMicroseconds(latency)
                    metrics.published(topic: row.message.topic).increment()
                }
            }
            let failedCount = round.rows.count - acked.count
            if failedCount > 0 {
                metrics.failures.increment(by: failedCount)
                if !isStopping {
                    logger.warning("\(failedCount) of \(round.rows.count) outbox rows not published, keys held back: \(firstError ?? "?")")
                }
            }
            if !latencies.isEmpty { hooks.onAcknowledged?(latencies) }
            hooks.afterPublish?(state.settledRounds)
            lock.withLock {
                acknowledged.formUnion(acked)
                stats.batches += 1
                stats.published += acked.count
                stats.failed += failedCount
            }
            if !acked.isEmpty { deleteSignal.signal() }
            replaceProducer = replaceProducer || round.fatal
        }
        if replaceProducer && !isStopping {
            logger.error("producer failed fatally; replacing it and republishing from the outbox")
            await closeProducer(flushTimeout: .zero)
        }
    }

    /// Takes or renews the lease when due; true while this relay may publish.
    private func holdsLease(_ state: inout LoopState) async -> Bool {
        let now = ContinuousClock.now
        guard (state.leader && now >= state.renewAt) || (!state.leader && now >= state.nextAcquire) else {
            return state.leader
        }
        do {
            let held = try await lease.acquire()
            if held != state.leader {
                logger.info(held ? "relay lease acquired: publishing" : "relay lease held elsewhere: standing by")
                metrics.leader.record(held ? 1 : 0)
                lock.withLock { stats.isLeader = held }
            }
            state.leader = held
            state.renewAt = now + configuration.leaseTTL / 3
            state.leaseValidUntil = now + configuration.leaseTTL
            state.nextAcquire = now + min(configuration.leaseTTL / 4, .seconds(1))
        } catch {
            logger.warning("cannot renew the relay lease: \(error)")
            if state.leader && ContinuousClock.now >= state.leaseValidUntil {
                state.leader = false
                lock.withLock { stats.isLeader = false }
            }
            state.nextAcquire = .now + .seconds(1)
            state.renewAt = state.nextAcquire
        }
        return state.leader
    }

    private func readRows(excluding inFlight: Set<Int64>) async throws -> [Row] {
        let hidden = lock.withLock { acknowledged }
        let limit = Int64(configuration.batchSize + hidden.count + inFlight.count)
        let rows = try await database.read { connection in
            try connection.query("SELECT id, topic, key, headers, payload, created_at_us FROM outbox ORDER BY id LIMIT ?",
                                 [.integer(limit)])
        }
        var result: [Row] = []
        result.reserveCapacity(min(rows.count, configuration.batchSize))
        for row in rows {
            guard let id = row.int("id"), !hidden.contains(id), !inFlight.contains(id) else { continue }
            guard let topic = row.string("topic"), let headerBytes = row.bytes("headers"),
                  let headers = try? HeaderCodec.decode(headerBytes) else {
                logger.critical("outbox row \(id) is malformed; leaving it in place")
                continue
            }
            result.append(Row(id: id, createdAtMicros: row.int("created_at_us") ?? 0,
                              message: OutgoingMessage(topic: topic, key: row.bytes("key"),
                                                       value: row.bytes("payload"), headers: headers)))
            if result.count == configuration.batchSize { break }
        }
        return result
    }

    private func currentProducer() async -> KafkaProducer? {
        if let producer = lock.withLock({ producer }) { return producer }
        var attempt = 0
        while !isStopping {
            do {
                var properties = configuration.kafka.merging(
                    RelayConfiguration.producerDefaults.filter { configuration.kafka[$0.key] == nil })
                // One configuration often serves consumer and relay; librdkafka warns about the other side's keys.
                for key in RelayConfiguration.consumerOnlyProperties { properties.properties[key] = nil }
                let created = try KafkaProducer(configuration: properties, logger: logger)
                lock.withLock { producer = created }
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
        guard let producer = lock.withLock({ () -> KafkaProducer? in
            defer { producer = nil }
            return producer
        }) else { return }
        await producer.close(flushTimeout: flushTimeout)
    }

    // MARK: - deleting acknowledged rows (off the publishing path)

    private static let deleteStatement = InListStatement("DELETE FROM outbox WHERE id IN")

    private func deleteLoop() async {
        var failures = 0
        while true {
            let (ids, finishing) = lock.withLock { (Array(acknowledged), publishingEnded) }
            if ids.isEmpty {
                if finishing { return }
                await deleteSignal.wait(timeout: configuration.fallbackInterval)
                continue
            }
            do {
                let sorted = ids.sorted()
                _ = try await database.write { connection in
                    try Self.deleteStatement.executePipelined(sorted.map { .integer($0) }, on: connection)
                }
                failures = 0
                lock.withLock {
                    acknowledged.subtract(ids)
                    stats.deletedRows += ids.count
                }
                deletedSignal.signal()
                wakeSignal.signal()
            } catch {
                failures += 1
                logger.warning("cannot delete \(ids.count) published outbox rows (they stay hidden from this relay): \(error)")
                if finishing && failures >= 3 { return }
                try? await Task.sleep(for: configuration.retry.delay(attempt: failures))
            }
        }
    }

    // MARK: - lag figures

    private func refreshStatistics() async {
        do {
            let row = try await database.read { connection in
                try connection.query("SELECT COUNT(*) AS waiting, MIN(created_at_us) AS oldest FROM outbox", []).first
            }
            let cutoff = WallClock.nowMicros() - 60_000_000
            let hidden = lock.withLock { () -> Int in
                // Rows published by another instance never reach our acks.
                if !commitTimes.isEmpty { commitTimes = commitTimes.filter { $0.value > cutoff } }
                return acknowledged.count
            }
            let waiting = max(0, Int(row?.int("waiting") ?? 0) - hidden)
            let age = row?.int("oldest").map { max(0, Double(WallClock.nowMicros() - $0) / 1e6) } ?? 0
            metrics.pendingRows.record(waiting)
            metrics.oldestAge.record(age)
            lock.withLock {
                stats.pendingRows = waiting
                stats.oldestAgeSeconds = age
            }
        } catch {
            logger.debug("cannot read outbox statistics: \(error)")
        }
    }
}
