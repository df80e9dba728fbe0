import Credentials
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
    /// Topics the handler emits to: the batch locks their sequence rows for its orders up front,
    /// in one order (the per-order lock of every writer; see `BatchProcessor.runTransaction`).
    public var outputTopics: [String]
    /// How long a batch may keep failing transiently, or an assigned partition with lag may go
    /// without progress, before it is reported: logged at error, counted, readiness red.
    public var stallBound: Duration
    /// Largest encoded dead letter; bigger ones are cut to fit (see `Saga_V1_DeadLetter.fitted`).
    public var deadLetterMaxBytes: Int
    /// What to do when a partition's log does not contain the offset after the stored one.
    public var offsetAnomalyPolicy: OffsetAnomalyPolicy
    /// Offsets advanced only in memory (batches of events this consumer ignores need no
    /// transaction) are stored at most this often, so a restart or a lag check sees them.
    public var idleOffsetStoreInterval: Duration
    /// Checks who wrote each record (`EventAuthenticator`): a record that is not signed by its
    /// topic's writer is dead-lettered as `unauthenticated`, never handled and never recorded in
    /// the inbox (so a forged copy cannot make the real event look like a duplicate). nil
    /// believes every record: only for tests and tools on a bus nobody else can write to.
    public var authenticator: EventAuthenticator?
    /// `outbox_sequences` rows of orders that emitted nothing for this long are deleted (pruned
    /// with the inbox). Keep it longer than any order can still emit (the saga deadline, replays
    /// of its dead letters): a pruned order's next event would start again at sequence 1.
    public var sequenceRetention: Duration

    public init(groupID: String, topics: [String], kafka: KafkaConfiguration,
                maxBatchSize: Int = 500, pollTimeout: Duration = .milliseconds(100),
                retry: RetryPolicy = RetryPolicy(), maxAttemptsForUnclassifiedErrors: Int = 5,
                deadLetterUnknownEventTypes: Bool = false, handledEventTypes: Set<EventType>? = nil,
                inboxRetention: Duration = .seconds(7 * 24 * 3600), inboxPruneInterval: Duration = .seconds(600),
                lagStatisticsInterval: Duration? = .seconds(5), kafkaCommitInterval: Duration = .seconds(1),
                outputTopics: [String] = [], stallBound: Duration = .seconds(180),
                deadLetterMaxBytes: Int = UnitOfWork.deadLetterMaxBytes, offsetAnomalyPolicy: OffsetAnomalyPolicy = .hold,
                idleOffsetStoreInterval: Duration = .seconds(1), sequenceRetention: Duration = .seconds(7 * 24 * 3600),
                authenticator: EventAuthenticator? = nil) {
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
        self.outputTopics = outputTopics
        self.stallBound = stallBound
        self.deadLetterMaxBytes = deadLetterMaxBytes
        self.offsetAnomalyPolicy = offsetAnomalyPolicy
        self.idleOffsetStoreInterval = idleOffsetStoreInterval
        self.sequenceRetention = sequenceRetention
        self.authenticator = authenticator
    }
}

/// What a consumer does with a partition whose log no longer holds the record after its stored
/// offset: the log ends before it (the topic was recreated, the dev cluster restarted) or starts
/// after it (retention deleted records before they were processed). Either way, reading on from
/// wherever the log is would skip records, or re-apply a different history, silently.
public enum OffsetAnomalyPolicy: String, Sendable, CaseIterable {
    /// Hold the partition (no records, readiness red, logged at error and counted) until an
    /// operator resets its stored offset (`kafka-tool offsets reset`); the consumer looks again
    /// every few seconds and resumes by itself once the offset fits the log.
    case hold
    /// Accept the log as it is now: store "nothing processed before the log start" and read from
    /// the log start (still logged at error and counted).
    case accept
}

/// Points where tests stop a process on purpose (crash tests) or observe the runtime, and where
/// a service starts what a commit left due.
public struct ConsumerHooks: Sendable {
    /// After batch number `n` (from 1, counting polled batches) committed to the database, before
    /// the Kafka commit; not called for a batch that needed no transaction (all skipped).
    public var afterDatabaseCommit: (@Sendable (_ batch: Int) -> Void)?

    public init(afterDatabaseCommit: (@Sendable (Int) -> Void)? = nil) {
        self.afterDatabaseCommit = afterDatabaseCommit
    }
}
