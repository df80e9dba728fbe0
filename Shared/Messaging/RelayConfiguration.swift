import Kafka

/// How an `OutboxRelay` publishes.
public struct RelayConfiguration: Sendable {
    /// Bootstrap servers and producer properties (producer defaults and `producerDefaults`
    /// below are applied under them; add `KafkaConfiguration.devClusterTuning` on the dev cluster).
    public var kafka: KafkaConfiguration
    /// Rows read and sent per round.
    public var batchSize: Int
    /// Rounds on the wire at once (over disjoint keys), so a commit need not wait for the acks
    /// of the round before.
    public var maxRoundsInFlight: Int
    /// How often the relay looks at the outbox without being woken (rows committed by code that
    /// does not wake it, another instance's rows after a takeover).
    public var fallbackInterval: Duration
    /// Backoff of a key whose row failed to publish.
    public var retry: RetryPolicy
    public var leaseName: String
    public var leaseTTL: Duration
    /// How often the lag gauges (rows waiting, oldest age) are refreshed.
    public var statisticsInterval: Duration
    /// On shutdown, how long a send in progress may take before the producer is closed under it.
    public var shutdownGrace: Duration

    public init(kafka: KafkaConfiguration, batchSize: Int = 1000, maxRoundsInFlight: Int = 4, fallbackInterval: Duration = .milliseconds(500),
                retry: RetryPolicy = RetryPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(30)),
                leaseName: String = "outbox", leaseTTL: Duration = .seconds(10),
                statisticsInterval: Duration = .seconds(1), shutdownGrace: Duration = .seconds(5)) {
        precondition(batchSize > 0 && maxRoundsInFlight > 0)
        self.kafka = kafka
        self.batchSize = batchSize
        self.maxRoundsInFlight = maxRoundsInFlight
        self.fallbackInterval = fallbackInterval
        self.retry = retry
        self.leaseName = leaseName
        self.leaseTTL = leaseTTL
        self.statisticsInterval = statisticsInterval
        self.shutdownGrace = shutdownGrace
    }

    /// Producer properties that keep the broker side strict (see `OutboxRelay` for the ordering
    /// argument; one row per key per round covers the records librdkafka rejects locally):
    /// - `message.timeout.ms=0`: a record never expires locally; while Kafka is unreachable
    ///   librdkafka keeps retrying it, in order, so an outage delays rows instead of failing them
    ///   (a timed-out record is the one failure `enable.gapless.guarantee` does not cover);
    /// - `enable.gapless.guarantee=true`: any other failure that would leave a gap in a
    ///   partition's sequence is fatal for the producer instead of being skipped over; the relay
    ///   then starts a new producer and republishes from the outbox in id order.
    public static let producerDefaults: [String: String] = [
        "message.timeout.ms": "0",
        "enable.gapless.guarantee": "true",
    ]

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
    /// After round `n` (from 1) was acknowledged by the broker, before its rows are deleted.
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
