import EventSchema
import Foundation
import Metrics

/// Counters a consumer runtime keeps in process (tests, health endpoints); its metrics follow
/// from them (`ConsumerMetrics.advance(from:to:)`).
public struct ConsumerStatistics: Sendable, Equatable {
    /// Messages received from Kafka (before any skipping).
    public var polled = 0
    /// Messages whose handler ran and committed (applied or ignored), by topic.
    public var handledByTopic: [String: Int] = [:]
    public var handled: Int { handledByTopic.values.reduce(0, +) }
    public var skippedOffset = 0
    public var skippedInbox = 0
    public var skippedUnknownType = 0
    /// Events of types the handler does not act on (`handledEventTypes`): offset advanced only.
    public var skippedNotHandled = 0
    public var deadLetteredByKind: [Saga_V1_DeadLetter.ErrorKind: Int] = [:]
    public var deadLettered: Int { deadLetteredByKind.values.reduce(0, +) }
    /// Of those, records not signed by their topic's writer (see `EventAuthenticator`).
    public var unauthenticated: Int { deadLetteredByKind[.unauthenticated] ?? 0 }
    public var batches = 0
    /// Reads of the outbox looking for rows to send (each reads one page or more).
    public var scans = 0
    /// Batch attempts rolled back for a transient error (or to dead-letter a rejected message).
    public var retries = 0
    public var prunedInboxRows = 0
    public var prunedSequenceRows = 0
    /// Records a partition skipped over (offsets polled beyond the one after the last processed).
    public var offsetGaps = 0
    /// Stored offsets the log could not continue from (see `OffsetAnomalyPolicy`), by kind.
    public var offsetsBeyondLogEnd = 0
    public var offsetsBeforeLogStart = 0
    public var offsetAnomalies: Int { offsetsBeyondLogEnd + offsetsBeforeLogStart }

    /// Adds what a committed batch did.
    mutating func add(_ outcome: BatchProcessor.Outcome) {
        batches += 1
        handledByTopic.merge(outcome.handledByTopic, uniquingKeysWith: +)
        skippedOffset += outcome.skippedOffset
        skippedInbox += outcome.skippedInbox
        skippedUnknownType += outcome.skippedUnknownType
        skippedNotHandled += outcome.skippedNotHandled
        for note in outcome.deadLetters { deadLetteredByKind[note.kind, default: 0] += 1 }
        retries += outcome.retries
    }

    mutating func add(_ anomaly: OffsetAnomaly) {
        switch anomaly {
        case .beyondLogEnd: offsetsBeyondLogEnd += 1
        case .beforeLogStart: offsetsBeforeLogStart += 1
        }
    }
}

/// The consumer runtime's metrics (swift-metrics; names follow Prometheus conventions). The
/// counters follow from `ConsumerStatistics`; the rest are recorded as they happen.
final class ConsumerMetrics: @unchecked Sendable {
    let group: String
    private let lock = NSLock()
    private var consumedByTopic: [String: Counter] = [:]
    private var lagGauges: [String: Gauge] = [:]
    private let handlerTimers: [EventType: Metrics.Timer]
    /// Each counting statistic and the counter that follows it.
    private let counters: [(KeyPath<ConsumerStatistics, Int>, Counter)]
    private let deadLetteredUndecodable: Counter
    private let deadLetteredRejected: Counter
    private let deadLetteredMisrouted: Counter
    private let deadLetteredUnauthenticated: Counter
    let batchSize: Recorder
    let batchDuration: Metrics.Timer
    /// Batches whose transient failures outlasted the stall bound.
    let stalls: Counter

    init(group: String) {
        self.group = group
        let g = ("group", group)
        counters = [
            (\.skippedOffset, Counter(label: "messaging_skipped_total", dimensions: [g, ("reason", "offset")])),
            (\.skippedInbox, Counter(label: "messaging_skipped_total", dimensions: [g, ("reason", "inbox")])),
            (\.skippedUnknownType, Counter(label: "messaging_skipped_total", dimensions: [g, ("reason", "unknown_type")])),
            (\.skippedNotHandled, Counter(label: "messaging_skipped_total", dimensions: [g, ("reason", "not_handled")])),
            (\.retries, Counter(label: "messaging_batch_retries_total", dimensions: [g])),
            (\.prunedInboxRows, Counter(label: "messaging_inbox_pruned_total", dimensions: [g])),
            (\.prunedSequenceRows, Counter(label: "messaging_sequences_pruned_total", dimensions: [g])),
            (\.offsetGaps, Counter(label: "messaging_offset_gaps_total", dimensions: [g])),
            (\.offsetsBeyondLogEnd, Counter(label: "messaging_offset_anomalies_total", dimensions: [g, ("kind", "beyond_log_end")])),
            (\.offsetsBeforeLogStart, Counter(label: "messaging_offset_anomalies_total", dimensions: [g, ("kind", "before_log_start")])),
        ]
        deadLetteredUndecodable = Counter(label: "messaging_dead_lettered_total", dimensions: [g, ("kind", "undecodable")])
        deadLetteredRejected = Counter(label: "messaging_dead_lettered_total", dimensions: [g, ("kind", "rejected")])
        deadLetteredMisrouted = Counter(label: "messaging_dead_lettered_total", dimensions: [g, ("kind", "misrouted")])
        deadLetteredUnauthenticated = Counter(label: "messaging_dead_lettered_total", dimensions: [g, ("kind", "unauthenticated")])
        batchSize = Recorder(label: "messaging_batch_size", dimensions: [g])
        batchDuration = Metrics.Timer(label: "messaging_batch_duration_seconds", dimensions: [g])
        stalls = Counter(label: "messaging_stalls_total", dimensions: [g])
        handlerTimers = Dictionary(uniqueKeysWithValues: EventType.allCases.map {
            ($0, Metrics.Timer(label: "messaging_handler_duration_seconds", dimensions: [g, ("event_type", $0.rawValue)]))
        })
    }

    /// Moves the counters on by what changed between two snapshots of the statistics.
    func advance(from old: ConsumerStatistics, to new: ConsumerStatistics) {
        for (statistic, counter) in counters {
            let delta = new[keyPath: statistic] - old[keyPath: statistic]
            if delta > 0 { counter.increment(by: delta) }
        }
        for (topic, count) in new.handledByTopic {
            let delta = count - (old.handledByTopic[topic] ?? 0)
            if delta > 0 { consumed(topic: topic).increment(by: delta) }
        }
        for (kind, count) in new.deadLetteredByKind {
            let delta = count - (old.deadLetteredByKind[kind] ?? 0)
            if delta > 0 { deadLettered(kind).increment(by: delta) }
        }
    }

    func consumed(topic: String) -> Counter {
        lock.withLock {
            if let counter = consumedByTopic[topic] { return counter }
            let counter = Counter(label: "messaging_consumed_total", dimensions: [("group", group), ("topic", topic)])
            consumedByTopic[topic] = counter
            return counter
        }
    }

    func handlerTimer(_ type: EventType) -> Metrics.Timer { handlerTimers[type]! }

    func deadLettered(_ kind: Saga_V1_DeadLetter.ErrorKind) -> Counter {
        switch kind {
        case .rejected: deadLetteredRejected
        case .misrouted: deadLetteredMisrouted
        case .unauthenticated: deadLetteredUnauthenticated
        default: deadLetteredUndecodable
        }
    }

    func lag(topic: String, partition: Int32) -> Gauge {
        lock.withLock {
            let key = "\(topic)\u{0}\(partition)"
            if let gauge = lagGauges[key] { return gauge }
            let gauge = Gauge(label: "messaging_consumer_lag",
                              dimensions: [("group", group), ("topic", topic), ("partition", "\(partition)")])
            lagGauges[key] = gauge
            return gauge
        }
    }

    /// librdkafka statistics: `consumer_lag` per assigned partition.
    func recordLag(statistics json: String) {
        guard let root = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let topics = root["topics"] as? [String: Any] else { return }
        for (topic, value) in topics {
            guard let partitions = (value as? [String: Any])?["partitions"] as? [String: Any] else { continue }
            for (id, stats) in partitions {
                guard let partition = Int32(id), partition >= 0, let stats = stats as? [String: Any],
                      let lag = stats["consumer_lag"] as? Int, lag >= 0 else { continue }
                self.lag(topic: topic, partition: partition).record(lag)
            }
        }
    }
}

/// Counters an outbox relay keeps in process.
public struct RelayStatistics: Sendable, Equatable {
    /// Rows acknowledged by the broker, by topic.
    public var publishedByTopic: [String: Int] = [:]
    public var published: Int { publishedByTopic.values.reduce(0, +) }
    public var failed = 0
    public var batches = 0
    /// Reads of the outbox looking for rows to send (each reads one page or more).
    public var scans = 0
    public var deletedRows = 0
    /// Of `deletedRows`, those a scan deleted in its own transaction (`RelayConfiguration.deleteDelay`).
    public var deletedInScans = 0
    /// Vacuums of the outbox after deletes (`RelayConfiguration.vacuumAfterDeletedRows`).
    public var vacuums = 0
    public var isLeader = false
    /// Rows waiting and the age of the oldest, as of the last refresh.
    public var pendingRows = 0
    public var oldestAgeSeconds = 0.0
    /// While rows wait: how long no broker acknowledged anything (0 when nothing waits).
    public var unreachableSeconds = 0.0
    /// Times this relay gave the lease up because it could not reach a broker.
    public var surrenders = 0
}

/// The relay's metrics: outbox lag (rows waiting, age of the oldest) and commit→ack latency.
/// Besides the latency, they follow from `RelayStatistics` (see `advance(from:to:)`).
final class RelayMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var publishedByTopic: [String: Counter] = [:]
    let pendingRows = Gauge(label: "messaging_outbox_pending_rows")
    let oldestAge = Gauge(label: "messaging_outbox_oldest_age_seconds")
    /// From the row's insert (inside its transaction, just before commit) to the broker's ack.
    let commitToAck = Metrics.Timer(label: "messaging_relay_commit_to_ack_seconds")
    let failures = Counter(label: "messaging_relay_failures_total")
    let leader = Gauge(label: "messaging_relay_leader")
    let surrenders = Counter(label: "messaging_relay_lease_surrenders_total")
    let vacuums = Counter(label: "messaging_relay_outbox_vacuums_total")

    func published(topic: String) -> Counter {
        lock.withLock {
            if let counter = publishedByTopic[topic] { return counter }
            let counter = Counter(label: "messaging_relay_published_total", dimensions: [("topic", topic)])
            publishedByTopic[topic] = counter
            return counter
        }
    }

    /// Moves the metrics on by what changed between two snapshots of the statistics.
    func advance(from old: RelayStatistics, to new: RelayStatistics) {
        for (topic, count) in new.publishedByTopic {
            let delta = count - (old.publishedByTopic[topic] ?? 0)
            if delta > 0 { published(topic: topic).increment(by: delta) }
        }
        if new.failed > old.failed { failures.increment(by: new.failed - old.failed) }
        if new.surrenders > old.surrenders { surrenders.increment(by: new.surrenders - old.surrenders) }
        if new.vacuums > old.vacuums { vacuums.increment(by: new.vacuums - old.vacuums) }
        if new.isLeader != old.isLeader { leader.record(new.isLeader ? 1 : 0) }
        if new.pendingRows != old.pendingRows { pendingRows.record(new.pendingRows) }
        if new.oldestAgeSeconds != old.oldestAgeSeconds { oldestAge.record(new.oldestAgeSeconds) }
    }
}
