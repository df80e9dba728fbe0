import EventSchema
import Kafka

/// How a `ConsumerRuntime` consumes: group, topics, batch size, retries and inbox retention.
public struct ConsumerConfiguration: Sendable {
    public var groupID: String
    public var topics: [String]
    /// Bootstrap servers and client properties (the consumer defaults are applied under them;
    /// add `KafkaConfiguration.devClusterTuning` on the dev cluster).
    public var kafka: KafkaConfiguration
    /// At most this many messages per poll, i.e. per transaction.
    public var maxBatchSize: Int
    public var pollTimeout: Duration
    /// Backoff between attempts of a batch that failed transiently.
    public var retry: RetryPolicy
    /// Attempts of a batch whose handler throws an error that is neither `HandlerError` nor
    /// `SQLError` before that message is dead-lettered.
    public var maxAttemptsForUnclassifiedErrors: Int
    /// Event types this code does not know (a newer producer): skipped and counted (EVOLUTION.md
    /// rule 12), or dead-lettered.
    public var deadLetterUnknownEventTypes: Bool
    /// The event types the handler acts on; nil: all. Others are routed by their `event-type`
    /// header alone: not decoded, no inbox row, no handler call; only their offset advances
    /// (a topic carries events for several consumers, e.g. Payment needs one of orders.v1's three).
    public var handledEventTypes: Set<EventType>?
    /// Inbox rows older than this are deleted; duplicates arrive within seconds of the original.
    public var inboxRetention: Duration
    public var inboxPruneInterval: Duration
    /// librdkafka statistics interval for the `messaging_consumer_lag` gauges (per partition,
    /// from librdkafka's `consumer_lag`, i.e. against the runtime's Kafka commits); nil turns them off.
    public var lagStatisticsInterval: Duration?
    /// How often the processed offsets are committed to Kafka. The database holds the truth
    /// (partitions start from its stored offsets), so this commit only feeds lag tools; one
    /// request per batch would cost the brokers a commit per handful of messages under load.
    /// Zero commits after every batch.
    public var kafkaCommitInterval: Duration

    public init(groupID: String, topics: [String], kafka: KafkaConfiguration,
                maxBatchSize: Int = 500, pollTimeout: Duration = .milliseconds(100),
                retry: RetryPolicy = RetryPolicy(), maxAttemptsForUnclassifiedErrors: Int = 5,
                deadLetterUnknownEventTypes: Bool = false, handledEventTypes: Set<EventType>? = nil,
                inboxRetention: Duration = .seconds(7 * 24 * 3600), inboxPruneInterval: Duration = .seconds(600),
                lagStatisticsInterval: Duration? = .seconds(5), kafkaCommitInterval: Duration = .seconds(1)) {
        precondition(maxBatchSize > 0 && !topics.isEmpty)
        self.groupID = groupID
        self.topics = topics
        self.kafka = kafka
        self.maxBatchSize = maxBatchSize
        self.pollTimeout = pollTimeout
        self.retry = retry
        self.maxAttemptsForUnclassifiedErrors = maxAttemptsForUnclassifiedErrors
        self.deadLetterUnknownEventTypes = deadLetterUnknownEventTypes
        self.handledEventTypes = handledEventTypes
        self.inboxRetention = inboxRetention
        self.inboxPruneInterval = inboxPruneInterval
        self.lagStatisticsInterval = lagStatisticsInterval
        self.kafkaCommitInterval = kafkaCommitInterval
    }
}

/// Points where tests stop a process on purpose (crash tests) or observe the runtime.
public struct ConsumerHooks: Sendable {
    /// After batch number `n` (from 1, counting polled batches) committed to the database, before
    /// the Kafka commit; not called for a batch that needed no transaction (all skipped).
    public var afterDatabaseCommit: (@Sendable (_ batch: Int) -> Void)?

    public init(afterDatabaseCommit: (@Sendable (Int) -> Void)? = nil) {
        self.afterDatabaseCommit = afterDatabaseCommit
    }
}
