import Credentials
import Kafka
import Persistence

/// How an `OutboxRelay` publishes.
public struct RelayConfiguration: Sendable {
    /// Bootstrap servers and producer properties (producer defaults and `producerProperties`
    /// below are applied under them; add `KafkaConfiguration.devClusterTuning` on the dev cluster).
    public var kafka: KafkaConfiguration
    /// Rows read and sent per round.
    public var batchSize: Int
    /// Rows handed to the producer and not acknowledged yet, at most. Each row is settled on its
    /// own acknowledgement, so a row stuck on an unreachable partition holds only its key.
    public var maxRowsInFlight: Int
    /// Rows a round looks at, at most, to find `batchSize` it can send: rows of keys that are
    /// blocked (a failed send backing off) or in flight are passed over, not a wall.
    public var scanLimit: Int
    /// How often the relay looks at the outbox without being woken (rows committed by code that
    /// does not wake it, another instance's rows after a takeover).
    public var fallbackInterval: Duration
    /// Backoff of a key whose row failed to publish.
    public var retry: RetryPolicy
    public var leaseName: String
    public var leaseTTL: Duration
    /// How long one send may take before it fails (librdkafka's `message.timeout.ms`); the row
    /// is then retried, in order for its key.
    public var sendTimeout: Duration
    /// A lease holder that got no acknowledgement for this long while rows were waiting (sends
    /// timing out, or still in flight) cannot reach the brokers: it gives the lease up, so that
    /// another instance that can reach them publishes, and stands by for a lease period.
    public var unreachableBound: Duration
    /// Readiness turns red when the oldest waiting row is older than this (the relay holds the
    /// lease but its rows do not get out).
    public var stallBound: Duration
    /// How often the lag gauges (rows waiting, oldest age) are refreshed.
    public var statisticsInterval: Duration
    /// On shutdown, how long a send in progress may take before the producer is closed under it.
    public var shutdownGrace: Duration
    /// The key every event written to this outbox is signed with (the service's; see
    /// `EventAuthenticator`); nil writes unsigned events, which only an unauthenticated
    /// consumer (tests, the messaging harness) accepts.
    public var signer: EventSigner?
    /// After this many deleted rows the relay vacuums the outbox (`SQLDatabase.vacuum`; 0:
    /// never), so that its scans, which start from the lowest id, do not walk the index entries
    /// of rows deleted since PostgreSQL's autovacuum last came (a minute apart by default). A
    /// vacuum of the small table costs about as much as a few scans over its dead entries.
    public var vacuumAfterDeletedRows: Int
    /// How long acknowledged rows wait for the relay's next scan to delete them in its own
    /// statement, before the deleter deletes them in a statement of their own; zero: at once,
    /// and scans never delete. Nil: by backend (`effectiveDeleteDelay`).
    public var deleteDelay: Duration?

    public init(kafka: KafkaConfiguration, batchSize: Int = 1000, maxRowsInFlight: Int = 4000, scanLimit: Int? = nil,
                fallbackInterval: Duration = .milliseconds(500),
                retry: RetryPolicy = RetryPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(30)),
                leaseName: String = "outbox", leaseTTL: Duration = .seconds(10),
                sendTimeout: Duration = .seconds(30), unreachableBound: Duration = .seconds(30),
                stallBound: Duration = .seconds(180),
                statisticsInterval: Duration = .seconds(1), shutdownGrace: Duration = .seconds(5),
                signer: EventSigner? = nil, vacuumAfterDeletedRows: Int = 500, deleteDelay: Duration? = nil) {
        precondition(batchSize > 0 && maxRowsInFlight > 0 && sendTimeout > .zero && vacuumAfterDeletedRows >= 0)
        precondition(deleteDelay.map { $0 >= .zero } ?? true)
        self.kafka = kafka
        self.batchSize = batchSize
        self.maxRowsInFlight = maxRowsInFlight
        self.scanLimit = max(scanLimit ?? 10 * batchSize, batchSize)
        self.fallbackInterval = fallbackInterval
        self.retry = retry
        self.leaseName = leaseName
        self.leaseTTL = leaseTTL
        self.sendTimeout = sendTimeout
        self.unreachableBound = unreachableBound
        self.stallBound = stallBound
        self.statisticsInterval = statisticsInterval
        self.shutdownGrace = shutdownGrace
        self.signer = signer
        self.vacuumAfterDeletedRows = vacuumAfterDeletedRows
        self.deleteDelay = deleteDelay
    }

    /// On PostgreSQL every statement costs the server a round trip and a wake-up, so a delete
    /// rides in the next scan's statement when one comes within 100 ms (under load, nearly
    /// always). On SQLite a statement costs no round trip, and a scan that deletes
    /// would become a write queued behind the one writer: the deleter deletes at once.
    func effectiveDeleteDelay(for dialect: SQLDialect) -> Duration {
        deleteDelay ?? (dialect == .postgres ? .milliseconds(100) : .zero)
    }

    /// Producer properties that keep the broker side strict (see `OutboxRelay` for the ordering
    /// argument; one row per key in flight covers the records librdkafka rejects or times out):
    /// - `message.timeout.ms` = `sendTimeout`: a send that cannot complete fails after a bound
    ///   and its row is retried, instead of pinning its key (and the relay) for as long as a
    ///   partition cannot take writes;
    /// - `enable.gapless.guarantee=true`: any other failure that would leave a gap in a
    ///   partition's sequence is fatal for the producer instead of being skipped over; the relay
    ///   then starts a new producer and republishes from the outbox in id order.
    public var producerProperties: [String: String] {
        ["message.timeout.ms": "\(max(1, sendTimeout.milliseconds))", "enable.gapless.guarantee": "true"]
    }

    /// Dropped from `kafka` for the producer (e.g. from `KafkaConfiguration.devClusterTuning`).
    static let consumerOnlyProperties: Set<String> = [
        "session.timeout.ms", "heartbeat.interval.ms", "fetch.wait.max.ms", "max.poll.interval.ms",
        "group.id", "auto.offset.reset", "enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof",
        "fetch.min.bytes", "fetch.max.bytes", "max.partition.fetch.bytes", "queued.min.messages",
        "queued.max.messages.kbytes", "partition.assignment.strategy", "group.instance.id", "isolation.level",
    ]
}

/// Points where crash tests stop a relay on purpose, and where benchmarks observe it.
public struct RelayHooks: Sendable {
    /// After the relay settled acknowledgements for the `n`-th time (from 1), before those rows
    /// are deleted.
    public var afterPublish: (@Sendable (_ round: Int) -> Void)?
    /// Commit→ack latency of every row acknowledged in a round, in microseconds (the values the
    /// `messaging_relay_commit_to_ack_seconds` timer records).
    public var onAcknowledged: (@Sendable (_ latenciesMicros: [Int64]) -> Void)?

    public init(afterPublish: (@Sendable (Int) -> Void)? = nil,
                onAcknowledged: (@Sendable ([Int64]) -> Void)? = nil) {
        self.afterPublish = afterPublish
        self.onAcknowledged = onAcknowledged
    }
}
