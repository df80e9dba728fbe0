import CRdKafka
import Foundation
import Logging

/// A group consumer with manual offsets: the application decides where each assigned
/// partition starts (its own database is the truth) and when to commit.
///
/// Every librdkafka call for the handle runs on one dedicated thread, in order, so `poll`,
/// `commit`, `pause` and the rebalance hooks never race and never block Swift's pool.
/// Messages of a partition come out in offset order.
///
/// Where the parts are: this file builds the handle and joins or assigns;
/// `KafkaConsumer+Polling.swift` turns librdkafka's messages into batches,
/// `KafkaConsumer+Rebalance.swift` serves the group's assignments and revocations through the
/// hooks, `KafkaConsumer+Positions.swift` commits, seeks, pauses and resumes, and
/// `KafkaConsumer+Metadata.swift` answers watermarks and partition counts.
public final class KafkaConsumer: @unchecked Sendable {
    let native: NativeHandle
    /// The consumer queue (rd_kafka_queue_get_consumer), for draining several messages per call.
    let consumerQueue: OpaquePointer
    private let callbacks: ClientCallbacks
    let worker: BlockingWorker
    let hooks: RebalanceHooks
    let logger: Logger
    let lock = NSLock()
    var assigned: Set<TopicPartition> = []
    var closed = false
    /// Topic names by librdkafka topic handle: saves a String per message. `lastTopic` saves
    /// the lookup too, since consecutive messages mostly share a topic. Poll thread only.
    var topicNames: [OpaquePointer: String] = [:]
    var lastTopic: (handle: OpaquePointer, name: String)?
    /// Receives message pointers from rd_kafka_consume_batch_queue; reused by every poll (poll thread only).
    static let chunkSize = 1024
    let chunk = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: KafkaConsumer.chunkSize)

    /// The group this member belongs to; `nil` for a consumer with a fixed assignment.
    public let groupID: String?

    /// Joins `groupID` and follows `topics`; the group decides which partitions are ours, and
    /// `hooks` decide where each one starts.
    public convenience init(configuration: KafkaConfiguration, groupID: String, topics: [String],
                            hooks: RebalanceHooks = RebalanceHooks(), logger: Logger = Logger(label: "kafka.consumer"),
                            onStatistics: (@Sendable (String) -> Void)? = nil) throws {
        try self.init(configuration: configuration, groupID: groupID, hooks: hooks, logger: logger, onStatistics: onStatistics)
        try subscribe(topics)
    }

    /// Reads exactly these partitions from the given offsets (`KafkaConsumer.beginning`,
    /// `.end` or a real offset), outside any group: for tools, audits and benchmarks.
    public convenience init(configuration: KafkaConfiguration, partitions: [TopicPartition: Int64],
                            logger: Logger = Logger(label: "kafka.consumer")) throws {
        try self.init(unjoined: configuration, logger: logger)
        assigned = Set(partitions.keys)
        // On the poll thread, ahead of any poll: learn the leaders first, otherwise librdkafka
        // starts the partitions leaderless and retries only on its offset-query timer (~0.5 s).
        worker.submit { [self] in
            for topic in Set(partitions.keys.map(\.topic)) { _ = try? partitionCount(native, topic: topic, timeoutMs: 5000) }
            assign(partitions)
        }
    }

    /// Reads every partition of `topics` from `offset` (`KafkaConsumer.beginning`, `.end` or a
    /// real offset), outside any group, like `kcat -C`. The partition counts come from this
    /// consumer's own metadata request (which also tells it the leaders), so no admin client is
    /// needed first. Throws if a topic does not exist.
    public convenience init(configuration: KafkaConfiguration, topics: [String], startingAt offset: Int64,
                            logger: Logger = Logger(label: "kafka.consumer")) async throws {
        try self.init(unjoined: configuration, logger: logger)
        do {
            try await worker.run { [self] in
                var partitions: [TopicPartition: Int64] = [:]
                for topic in topics {
                    for partition in 0..<(try partitionCount(native, topic: topic, timeoutMs: 5000)) {
                        partitions[TopicPartition(topic: topic, partition: partition)] = offset
                    }
                }
                lock.withLock { assigned = Set(partitions.keys) }
                assign(partitions)
            }
        } catch {
            await close()
            throw error
        }
    }

    private convenience init(unjoined configuration: KafkaConfiguration, logger: Logger) throws {
        var configuration = configuration
        // librdkafka 2.0.2 refuses assign() without a group.id; this one never joins or commits,
        // but librdkafka still looks up its coordinator, which a broker with ACLs allows only
        // for groups the client may use: named after the client id, as its ACLs' group prefix.
        configuration["group.id"] = Self.unjoinedGroupID(clientID: configuration["client.id"])
        try self.init(configuration: configuration, groupID: nil, hooks: RebalanceHooks(), logger: logger, onStatistics: nil)
    }

    /// `<client.id>-<uuid>`, or `unjoined-<uuid>` without a client id.
    public static func unjoinedGroupID(clientID: String?) -> String {
        "\(clientID.flatMap { $0.isEmpty ? nil : $0 } ?? "unjoined")-\(UUID().uuidString)"
    }

    public static let beginning = Int64(RD_KAFKA_OFFSET_BEGINNING)
    public static let end = Int64(RD_KAFKA_OFFSET_END)
    /// From `RebalanceHooks.onAssign`: take the partition, fetch nothing until `seek` and `resume`.
    public static let paused = Int64.min

    private init(configuration: KafkaConfiguration, groupID: String?, hooks: RebalanceHooks, logger: Logger,
                 onStatistics: (@Sendable (String) -> Void)?) throws {
        var configuration = configuration.merging(
            KafkaConfiguration.consumerDefaults.filter { configuration[$0.key] == nil })
        if let groupID { configuration["group.id"] = groupID }
        self.groupID = groupID
        self.hooks = hooks
        self.logger = logger
        worker = BlockingWorker(name: "kafka-consumer-\(groupID ?? "assigned")")
        let callbacks = ClientCallbacks(logger: logger, onStatistics: onStatistics)
        self.callbacks = callbacks
        let handle = try makeClientHandle(type: RD_KAFKA_CONSUMER, configuration: configuration, callbacks: callbacks) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let rk, let partitions, let opaque else { return }
                let callbacks = Unmanaged<ClientCallbacks>.fromOpaque(opaque).takeUnretainedValue()
                callbacks.onRebalance?(rk, err, partitions)
            }
        }
        native = NativeHandle(pointer: handle)
        // Rebalances, errors and logs are then served by the consumer's own poll.
        rd_kafka_poll_set_consumer(handle)
        consumerQueue = rd_kafka_queue_get_consumer(handle)
        callbacks.onRebalance = { [unowned self] rk, err, list in self.rebalance(rk, err, list) }
    }

    private func subscribe(_ topics: [String]) throws {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let err = rd_kafka_subscribe(native.pointer, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_destroy(native.pointer)
            worker.stop()
            throw KafkaError(err, operation: "subscribe to \(topics.joined(separator: ","))")
        }
    }

    /// Partitions currently assigned to this member.
    public var assignment: Set<TopicPartition> { lock.withLock { assigned } }

    public var latestStatistics: String? { callbacks.latestStatistics }

    var isClosed: Bool { lock.withLock { closed } }

    /// Leaves the group (revoking through the hooks) and frees the handle.
    public func close() async {
        guard lock.withLock({ () -> Bool in
            defer { closed = true }
            return !closed
        }) else { return }
        rd_kafka_queue_yield(consumerQueue) // a poll under way returns now, not at its timeout
        await worker.run { [self] in
            rd_kafka_queue_destroy(consumerQueue)
            let err = rd_kafka_consumer_close(native.pointer)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { logger.warning("\(KafkaError(err, operation: "close consumer"))") }
            rd_kafka_destroy(native.pointer)
        }
        worker.stop()
    }

    deinit {
        chunk.deallocate()
    }
}
