import CRdKafka
import Foundation
import Logging

/// A group consumer with manual offsets: the application decides where each assigned
/// partition starts (its own database is the truth) and when to commit.
///
/// Every librdkafka call for the handle runs on one dedicated thread, in order, so `poll`,
/// `commit`, `pause` and the rebalance hooks never race and never block Swift's pool.
/// Messages of a partition come out in offset order.
public final class KafkaConsumer: @unchecked Sendable {
    private let native: NativeHandle
    /// The consumer queue (rd_kafka_queue_get_consumer), for draining several messages per call.
    private let consumerQueue: OpaquePointer
    private let callbacks: ClientCallbacks
    private let worker: BlockingWorker
    private let hooks: RebalanceHooks
    private let logger: Logger
    private let lock = NSLock()
    private var assigned: Set<TopicPartition> = []
    private var closed = false
    /// Topic names by librdkafka topic handle: saves a String per message. `lastTopic` saves
    /// the lookup too, since consecutive messages mostly share a topic. Poll thread only.
    private var topicNames: [OpaquePointer: String] = [:]
    private var lastTopic: (handle: OpaquePointer, name: String)?
    /// Receives message pointers from rd_kafka_consume_batch_queue; reused by every poll (poll thread only).
    private static let chunkSize = 1024
    private let chunk = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: KafkaConsumer.chunkSize)

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

    /// Waits up to `timeout` for the first message, then takes whatever else is already
    /// fetched, up to `maxMessages`. Returns an empty array when nothing arrived in time.
    public func poll(maxMessages: Int = 1000, timeout: Duration = .milliseconds(100)) async throws -> [ConsumedMessage] {
        let timeoutMs = milliseconds(timeout)
        return try await worker.run { [self] in
            guard !lock.withLock({ closed }) else { throw KafkaError.local("consumer is closed", operation: "poll") }
            var batch: [ConsumedMessage] = []
            // Wait for the first message only; then take what is already fetched, without waiting
            // (consume_batch_queue with a timeout would wait for a full batch).
            guard let polled = rd_kafka_consumer_poll(native.pointer, timeoutMs) else { return batch }
            defer { rd_kafka_message_destroy(polled) }
            // Sized from what is queued: a service's poll of a few records no longer reserves
            // room for a full batch, and a large poll is not copied as it grows.
            batch.reserveCapacity(min(maxMessages, 1 + Int(rd_kafka_queue_length(consumerQueue))))
            var first: UnsafeMutablePointer<rd_kafka_message_t>? = polled
            try withUnsafePointer(to: &first) { try convert(UnsafeBufferPointer(start: $0, count: 1), into: &batch) }
            var taken = 1
            // In chunks through one reused pointer buffer: a large maxMessages costs no large
            // allocation, and the messages are destroyed while still in cache.
            while taken < maxMessages {
                let wanted = min(maxMessages - taken, Self.chunkSize)
                let count = rd_kafka_consume_batch_queue(consumerQueue, 0, chunk, wanted)
                guard count > 0 else { break }
                taken += count
                defer { for i in 0..<count { rd_kafka_message_destroy(chunk[i]) } }
                try convert(UnsafeBufferPointer(start: chunk, count: count), into: &batch)
                if count < wanted { break }
            }
            return batch
        }
    }

    /// An endless sequence of non-empty batches; ends when the task is cancelled or the consumer closed.
    public func batches(maxMessages: Int = 1000) -> Batches {
        Batches(consumer: self, maxMessages: maxMessages)
    }

    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = [ConsumedMessage]
        let consumer: KafkaConsumer
        let maxMessages: Int

        public struct AsyncIterator: AsyncIteratorProtocol {
            let consumer: KafkaConsumer
            let maxMessages: Int

            public mutating func next() async throws -> [ConsumedMessage]? {
                while !Task.isCancelled {
                    if consumer.isClosed { return nil }
                    let batch = try await consumer.poll(maxMessages: maxMessages)
                    if !batch.isEmpty { return batch }
                }
                return nil
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(consumer: consumer, maxMessages: maxMessages)
        }
    }

    var isClosed: Bool { lock.withLock { closed } }

    /// Commits to the group (for lag monitoring and tools); `offsets` are next offsets to read.
    /// Asynchronous: a failure is logged, since the application's database holds the truth.
    public func commit(_ offsets: [TopicPartition: Int64]) async {
        guard !offsets.isEmpty else { return }
        await worker.run { [self] in
            guard !lock.withLock({ closed }) else { return }
            let list = makeList(offsets.keys, offsets: offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_commit(native.pointer, list, 1)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.warning("\(KafkaError(err, operation: "commit offsets"))")
            }
        }
    }

    /// Stops fetching from these partitions (e.g. while the application cannot make progress).
    public func pause(_ partitions: [TopicPartition]) async throws {
        try await changeFlow(partitions, pause: true)
    }

    public func resume(_ partitions: [TopicPartition]) async throws {
        try await changeFlow(partitions, pause: false)
    }

    private func changeFlow(_ partitions: [TopicPartition], pause: Bool) async throws {
        try await worker.run { [self] in
            let list = makeList(partitions)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = pause ? rd_kafka_pause_partitions(native.pointer, list) : rd_kafka_resume_partitions(native.pointer, list)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, operation: pause ? "pause" : "resume") }
        }
    }

    /// Moves the fetch position of assigned partitions (e.g. held ones, before `resume`).
    public func seek(_ offsets: [TopicPartition: Int64]) async throws {
        guard !offsets.isEmpty else { return }
        try await worker.run { [self] in
            let list = makeList(offsets.keys, offsets: offsets)
            defer { rd_kafka_topic_partition_list_destroy(list) }
            if let error = rd_kafka_seek_partitions(native.pointer, list, 5000) {
                throw KafkaError(consuming: error, operation: "seek")
            }
            for i in 0..<Int(list.pointee.cnt) where list.pointee.elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(list.pointee.elems[i].err, operation: "seek \(String(cString: list.pointee.elems[i].topic))[\(list.pointee.elems[i].partition)]")
            }
        }
    }

    /// Asks the partitions' leaders where each log begins and ends. Blocks (a round trip per
    /// partition), and may be called from any thread, including from inside the rebalance hooks.
    public func queryWatermarks(_ partitions: [TopicPartition], timeout: Duration = .seconds(5)) throws -> [TopicPartition: Watermarks] {
        let timeoutMs = milliseconds(timeout)
        var result: [TopicPartition: Watermarks] = [:]
        for partition in partitions {
            var low: Int64 = 0
            var high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(native.pointer, partition.topic, partition.partition, &low, &high, timeoutMs)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(err, operation: "query watermarks of \(partition)")
            }
            result[partition] = Watermarks(low: low, high: high)
        }
        return result
    }

    /// The watermarks the last fetch of an assigned partition brought back, without a request;
    /// nil before the first fetch.
    public func cachedWatermarks(_ partition: TopicPartition) -> Watermarks? {
        var low: Int64 = -1
        var high: Int64 = -1
        let err = rd_kafka_get_watermark_offsets(native.pointer, partition.topic, partition.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return Watermarks(low: max(low, 0), high: high)
    }

    /// Partition counts of `topics`, from the cluster's metadata.
    public func partitionCounts(_ topics: [String], timeout: Duration = .seconds(5)) async throws -> [String: Int32] {
        let timeoutMs = milliseconds(timeout)
        return try await worker.run { [self] in
            var counts: [String: Int32] = [:]
            for topic in topics { counts[topic] = try partitionCount(native, topic: topic, timeoutMs: timeoutMs) }
            return counts
        }
    }

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

    // MARK: - On the poll thread

    private func assign(_ partitions: [TopicPartition: Int64]) {
        let list = makeList(partitions.keys, offsets: partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_assign(native.pointer, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { logger.error("\(KafkaError(err, operation: "assign"))") }
    }

    private func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let partitions = partitionsOf(list)
        // NULL until the group protocol is known (librdkafka's documentation): read as eager.
        let protocolName: UnsafePointer<CChar>? = rd_kafka_rebalance_protocol(rk)
        let cooperative = protocolName.map { String(cString: $0) } == "COOPERATIVE"
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let offsets = startingOffsets(for: partitions)
            var paused: [TopicPartition] = []
            for i in 0..<Int(list.pointee.cnt) {
                let element = list.pointee.elems[i]
                let key = TopicPartition(topic: String(cString: element.topic), partition: element.partition)
                // The stored offset + 1 from the application; INVALID means "committed or reset policy".
                var offset = offsets[key] ?? Int64(RD_KAFKA_OFFSET_INVALID)
                if offset == Self.paused {
                    // The log end is always a valid position: no out-of-range fetch before the pause.
                    offset = Self.end
                    paused.append(key)
                }
                list.pointee.elems[i].offset = offset
            }
            logger.info("assigned \(partitions.count) partitions", metadata: ["partitions": "\(partitions.sorted { $0.description < $1.description })", "offsets": "\(offsets.count) from the application"])
            if cooperative {
                if let error = rd_kafka_incremental_assign(rk, list) { logger.error("\(KafkaError(consuming: error, operation: "incremental assign"))") }
            } else {
                let result = rd_kafka_assign(rk, list)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR { logger.error("\(KafkaError(result, operation: "assign"))") }
            }
            if !paused.isEmpty {
                let pauseList = makeList(paused)
                defer { rd_kafka_topic_partition_list_destroy(pauseList) }
                let result = rd_kafka_pause_partitions(rk, pauseList)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR { logger.error("\(KafkaError(result, operation: "pause held partitions"))") }
            }
            lock.withLock { assigned.formUnion(partitions) }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            logger.info("revoking \(partitions.count) partitions", metadata: ["lost": "\(lost)"])
            blockOn { await self.hooks.onRevoke(partitions, lost) }
            if cooperative {
                if let error = rd_kafka_incremental_unassign(rk, list) { logger.error("\(KafkaError(consuming: error, operation: "incremental unassign"))") }
            } else {
                _ = rd_kafka_assign(rk, nil)
            }
            lock.withLock { assigned.subtract(partitions) }
        default:
            logger.error("\(KafkaError(err, operation: "rebalance"))")
            _ = rd_kafka_assign(rk, nil)
            lock.withLock { assigned.removeAll() }
        }
    }

    private func startingOffsets(for partitions: [TopicPartition]) -> [TopicPartition: Int64] {
        var delay = 0.1
        while true {
            let result = blockOn { () -> Result<[TopicPartition: Int64], Error> in
                do { return .success(try await self.hooks.onAssign(partitions)) } catch { return .failure(error) }
            }
            switch result {
            case .success(let offsets): return offsets
            case .failure(let error):
                logger.error("cannot learn starting offsets, retrying in \(delay)s: \(error)")
                Thread.sleep(forTimeInterval: delay * Double.random(in: 0.5...1.5))
                delay = min(delay * 2, 5)
            }
        }
    }

    /// Runs async work to completion from the poll thread (which is ours to block).
    private func blockOn<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        Task.detached {
            box.value = await body()
            done.signal()
        }
        done.wait()
        return box.value!
    }

    /// Copies every key and value of `messages` into one shared buffer (one allocation for the
    /// chunk, not two per record), then appends a `ConsumedMessage` per record.
    private func convert(_ messages: UnsafeBufferPointer<UnsafeMutablePointer<rd_kafka_message_t>?>,
                         into batch: inout [ConsumedMessage]) throws {
        var total = 0
        for case let message? in messages where message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            total += message.pointee.key_len + message.pointee.len
        }
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            for case let message? in messages where message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                _ = ByteSpan(copying: message.pointee.key, count: message.pointee.key_len, into: buffer, at: &initialized)
                _ = ByteSpan(copying: message.pointee.payload, count: message.pointee.len, into: buffer, at: &initialized)
            }
        }
        // The same walk again gives each record its spans, without an array of them.
        var end = 0
        for case let message? in messages {
            let record = message.pointee
            guard record.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                if record.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                let error = KafkaError(record.err, operation: "consume",
                                       message: record.payload.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: record.len), as: UTF8.self) })
                if rd_kafka_fatal_error(native.pointer, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR { throw error }
                if record.rkt != nil, record.partition >= 0 {
                    hooks.onPartitionError(TopicPartition(topic: topicName(record.rkt), partition: record.partition), error)
                } else {
                    logger.warning("\(error)")
                }
                continue
            }
            var headers: [KafkaHeader] = []
            var nativeHeaders: OpaquePointer?
            if rd_kafka_message_headers(message, &nativeHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, let nativeHeaders {
                var index = 0
                var name: UnsafePointer<CChar>?
                var data: UnsafeRawPointer?
                var size = 0
                while rd_kafka_header_get_all(nativeHeaders, index, &name, &data, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                    headers.append(KafkaHeader(key: String(cString: name!), value: copyBytes(data, size)))
                    index += 1
                }
            }
            var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(message, &timestampType)
            let key = ByteSpan(at: &end, source: record.key, count: record.key_len)
            let value = ByteSpan(at: &end, source: record.payload, count: record.len)
            batch.append(ConsumedMessage(topic: topicName(record.rkt), partition: record.partition, offset: record.offset,
                                         bytes: bytes, key: key, value: value, headers: headers,
                                         timestampMs: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp))
        }
    }
}

extension KafkaConsumer {
    private func topicName(_ handle: OpaquePointer?) -> String {
        guard let handle else { return "" }
        if let lastTopic, lastTopic.handle == handle { return lastTopic.name }
        let name: String
        if let known = topicNames[handle] {
            name = known
        } else {
            name = String(cString: rd_kafka_topic_name(handle))
            topicNames[handle] = name
        }
        lastTopic = (handle, name)
        return name
    }
}

/// A copy of librdkafka's bytes (which die with the message); nil stays nil.
/// (Array(UnsafeBufferPointer) compiles to a specialised allocation + memcpy; the
/// unsafeUninitializedCapacity initializer went through the generic runtime path.)
@inline(__always)
private func copyBytes(_ start: UnsafeRawPointer?, _ count: Int) -> [UInt8]? {
    guard let start else { return nil }
    return Array(UnsafeRawBufferPointer(start: start, count: count))
}

private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

func partitionsOf(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
    (0..<Int(list.pointee.cnt)).map { i in
        let element = list.pointee.elems[i]
        return TopicPartition(topic: String(cString: element.topic), partition: element.partition)
    }
}

/// A new C partition list (caller destroys it), with offsets where given.
func makeList(_ partitions: some Sequence<TopicPartition>, offsets: [TopicPartition: Int64] = [:]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    let list = rd_kafka_topic_partition_list_new(8)!
    for partition in partitions {
        let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
        if let offset = offsets[partition] { element.pointee.offset = offset }
    }
    return list
}
