/// The outbox relay's decisions, without I/O: when to take or renew the lease, scan, send,
/// back off, replace the producer or give the lease up, and which acknowledged rows may be
/// deleted under which epoch. `OutboxRelay` feeds it what happened (time included: nothing in
/// here reads a clock) and carries out the actions it returns. Only the publishing loop owns it.
///
/// The rules it keeps (see `OutboxRelay` for why): at most one row per key in flight, a failed
/// key backs off until its row gets through, rows settled after the lease or the producer was
/// dropped count for nothing, and a holder that hears nothing from the brokers while rows wait
/// gives the lease up.
struct RelayStateMachine {
    typealias Instant = ContinuousClock.Instant

    enum Action: Equatable {
        /// Take or renew the lease; report with `leaseAcquired` or `leaseFailed`.
        case acquireLease
        /// Read the outbox's backlog figures.
        case refreshStatistics
        /// Close the producer and release the lease: no broker answered for this long while
        /// rows waited. The machine already stands by.
        case surrender(silentFor: Duration)
        /// Read the outbox into `beginScan`'s selection; report with `scanned` or `scanFailed`.
        case scan
        /// Hand these rows to the producer; report with `handedOver` (or `notHandedOver`).
        case send([RelayRow])
        /// Nothing to do until then, unless woken.
        case wait(until: Instant)
        /// Shut down: nothing is in flight any more.
        case stop
    }

    /// What a lease report changed.
    enum LeaseChange: Equatable {
        case none
        case acquired(epoch: Int64)
        /// Another instance has the lease: the producer goes (what it held stays in the outbox).
        case takenOver
        /// No renewal got through before the lease ran out: the producer goes too.
        case ranOut
    }

    enum Delivery: Equatable {
        case acknowledged
        case failed(retriable: Bool, fatal: Bool)
    }

    /// Acknowledged rows to delete, fenced by the epoch they were published under.
    struct Deletion: Equatable {
        var ids: [Int64]
        var epoch: Int64
    }

    struct Settlement: Equatable {
        /// Rows acknowledged while in flight (rows settled after being dropped are not here).
        var acknowledged: [Int64] = []
        var failed: [Int64] = []
        var deletion: Deletion?
        /// A failure left a gap: close the producer (the machine forgot its rows in flight).
        var replaceProducer = false
        /// Counts settlements that settled something (what `RelayHooks.afterPublish` reports).
        var round = 0
    }

    /// A key whose row failed: not sent again before `retryAt`.
    struct Blocked: Equatable {
        var failures: Int
        var retryAt: Instant
    }

    let configuration: RelayConfiguration
    private(set) var epoch: Int64?
    private var renewAt: Instant
    private var leaseValidUntil: Instant
    private var nextAcquire: Instant
    private var nextStatistics: Instant
    private(set) var blocked: [RelayRow.Key: Blocked] = [:]
    /// Rows handed to the producer, by id, with their key.
    private(set) var inFlight: [Int64: RelayRow.Key] = [:]
    private var readFailures = 0
    /// The commit count when the last scan began; nil forces a scan.
    private var scannedAtCommits: UInt64?
    /// Keys the last scan passed over because a row of theirs was in flight: their settling is worth a scan.
    private var passedOver = Set<RelayRow.Key>()
    /// When the next scan is due anyway: the fallback interval, or a blocked key's retry.
    private var nextScan: Instant
    private var settlements = 0
    /// When this holder last had evidence the brokers answer: an ack, taking the lease, a new producer.
    private var lastContact: Instant
    /// A send failed for a reason worth retrying since `lastContact` (a timeout, a broker error).
    private var failedSinceContact = false
    /// While rows wait: how long no broker acknowledged anything, as of the last `nextAction`.
    private(set) var unreachableFor: Duration = .zero
    private(set) var isStopping = false

    var isLeader: Bool { epoch != nil }

    init(configuration: RelayConfiguration, now: Instant) {
        self.configuration = configuration
        (renewAt, leaseValidUntil, nextAcquire, nextStatistics, nextScan, lastContact) = (now, now, now, now, now, now)
    }

    // MARK: - the loop

    /// What to do next. `commits` counts the commits reported so far; `undeleted` is how many
    /// acknowledged rows wait for the deleter.
    mutating func nextAction(now: Instant, commits: UInt64, undeleted: Int) -> Action {
        if isStopping {
            // Rows in flight finish (or the producer is closed under them) and are settled first.
            return inFlight.isEmpty ? .stop : .wait(until: now + .milliseconds(100))
        }
        if isLeader ? now >= renewAt : now >= nextAcquire { return .acquireLease }
        guard isLeader, now < leaseValidUntil else { return .wait(until: now + configuration.fallbackInterval) }
        if now >= nextStatistics {
            nextStatistics = now + configuration.statisticsInterval
            return .refreshStatistics
        }
        let waiting = !inFlight.isEmpty || failedSinceContact
        unreachableFor = waiting ? now - lastContact : .zero
        if waiting, unreachableFor >= configuration.unreachableBound {
            // Stand by for a lease period, so that an instance that can reach the brokers publishes.
            dropInFlight(now: now)
            epoch = nil
            nextAcquire = now + configuration.leaseTTL
            return .surrender(silentFor: unreachableFor)
        }
        // All rows in flight, or far ahead of the deleter: wait for acks.
        if inFlight.count >= configuration.maxRowsInFlight || undeleted > 4 * configuration.batchSize {
            return .wait(until: now + configuration.fallbackInterval)
        }
        if commits == scannedAtCommits, now < nextScan {
            return .wait(until: max(nextScan, now + .milliseconds(1)))
        }
        scannedAtCommits = commits
        return .scan
    }

    mutating func shutdownRequested() {
        isStopping = true
    }

    // MARK: - the lease

    /// `requestedAt`: when the acquire was sent; the lease counts from then.
    mutating func leaseAcquired(_ epoch: Int64?, requestedAt: Instant, now: Instant) -> LeaseChange {
        var change = LeaseChange.none
        if let epoch, !isLeader {
            lastContact = now
            failedSinceContact = false
            change = .acquired(epoch: epoch)
        }
        if epoch == nil, isLeader {
            dropInFlight(now: now)
            change = .takenOver
        }
        if epoch != self.epoch { scannedAtCommits = nil }
        self.epoch = epoch
        let ttl = configuration.leaseTTL
        renewAt = requestedAt + ttl / 3
        leaseValidUntil = requestedAt + ttl
        nextAcquire = requestedAt + min(ttl / 4, .seconds(1))
        return change
    }

    mutating func leaseFailed(now: Instant) -> LeaseChange {
        var change = LeaseChange.none
        if isLeader && now >= leaseValidUntil {
            dropInFlight(now: now)
            epoch = nil
            change = .ranOut
        }
        nextAcquire = now + .seconds(1)
        renewAt = nextAcquire
        return change
    }

    // MARK: - scanning and sending

    func beginScan(now: Instant, hidden: Set<Int64>) -> RowSelection {
        RowSelection(batchSize: configuration.batchSize, scanLimit: configuration.scanLimit, hidden: hidden,
                     inFlight: inFlight, blocked: blocked, now: now)
    }

    /// What to do with what a scan selected: nil when nothing is to be sent.
    mutating func scanned(_ selection: RowSelection, now: Instant) -> Action? {
        readFailures = 0
        passedOver = selection.passedOver
        let fallback = now + configuration.fallbackInterval
        nextScan = selection.earliestRetry.map { min($0, fallback) } ?? fallback
        // Rows beyond what this scan read may be sendable: look again once these are handed over.
        if selection.stoppedEarly && !selection.rows.isEmpty { scannedAtCommits = nil }
        guard !selection.rows.isEmpty else { return nil }
        // The scan took time: hand nothing over on a lease that may have run out meanwhile.
        guard now < leaseValidUntil else {
            scannedAtCommits = nil
            return nil
        }
        return .send(selection.rows)
    }

    /// The outbox could not be read: back off (a commit's wake-up ends the wait early).
    mutating func scanFailed(now: Instant) -> Action {
        readFailures += 1
        scannedAtCommits = nil
        return .wait(until: now + configuration.retry.delay(attempt: readFailures))
    }

    mutating func handedOver(_ rows: [RelayRow], now: Instant, toNewProducer: Bool) {
        if toNewProducer { lastContact = now }
        for row in rows { inFlight[row.id] = row.key }
    }

    /// No producer took the rows (the relay is stopping).
    mutating func notHandedOver() {
        scannedAtCommits = nil
    }

    // MARK: - settling

    /// Records the outcome of finished sends: acknowledged rows go to the deleter, failed rows
    /// block their keys with a growing backoff. Nil when nothing finished.
    mutating func settle(_ deliveries: [(row: RelayRow, delivery: Delivery)], now: Instant) -> Settlement? {
        guard !deliveries.isEmpty else { return nil }
        var settlement = Settlement()
        var fatal = false
        for (row, delivery) in deliveries {
            // A row settled after its lease or producer was dropped is not in flight any more.
            guard inFlight.removeValue(forKey: row.id) != nil else { continue }
            let key = row.key
            if passedOver.remove(key) != nil { scannedAtCommits = nil }
            switch delivery {
            case let .failed(retriable, isFatal):
                let failures = (blocked[key]?.failures ?? 0) + 1
                let retryAt = now + configuration.retry.delay(attempt: failures)
                blocked[key] = Blocked(failures: failures, retryAt: retryAt)
                nextScan = min(nextScan, retryAt)
                if retriable { failedSinceContact = true }
                fatal = fatal || isFatal
                settlement.failed.append(row.id)
            case .acknowledged:
                blocked[key] = nil
                lastContact = now
                failedSinceContact = false
                settlement.acknowledged.append(row.id)
            }
        }
        settlements += 1
        settlement.round = settlements
        if !settlement.acknowledged.isEmpty, let epoch {
            settlement.deletion = Deletion(ids: settlement.acknowledged, epoch: epoch)
        }
        if fatal && !isStopping {
            settlement.replaceProducer = true
            dropInFlight(now: now)
        }
        return settlement
    }

    /// The producer goes (what it still held is purged: those rows stay in the outbox and go
    /// out again, in order): forget the rows in flight.
    private mutating func dropInFlight(now: Instant) {
        inFlight.removeAll()
        passedOver.removeAll()
        scannedAtCommits = nil
        failedSinceContact = false
        lastContact = now
    }
}
