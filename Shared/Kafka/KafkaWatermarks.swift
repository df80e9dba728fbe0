import CRdKafka
import Foundation
import Logging

/// The first offset still stored and the offset the next produced record will get.
public struct Watermarks: Sendable, Hashable {
    public let low: Int64
    public let high: Int64

    public init(low: Int64, high: Int64) {
        self.low = low
        self.high = high
    }
}

/// Asks the brokers where each partition of some topics begins and ends, without joining a
/// group: tools and audits use it to read a topic "up to now" or to follow it "from now".
public final class KafkaWatermarkReader: @unchecked Sendable {
    private let native: NativeHandle
    private let callbacks: ClientCallbacks
    private let worker = BlockingWorker(name: "kafka-watermarks")
    private let closeLock = NSLock()
    private var closed = false

    public init(configuration: KafkaConfiguration, logger: Logger = Logger(label: "kafka.watermarks")) throws {
        callbacks = ClientCallbacks(logger: logger, onStatistics: nil)
        // A consumer-type handle: it accepts the consumer tuning the callers share with their consumers.
        native = NativeHandle(pointer: try makeClientHandle(type: RD_KAFKA_CONSUMER, configuration: configuration, callbacks: callbacks))
    }

    /// Watermarks of every partition of `topics`; throws if a topic is unknown to the cluster.
    public func watermarks(topics: [String], timeout: Duration = .seconds(10)) async throws -> [TopicPartition: Watermarks] {
        let timeoutMs = milliseconds(timeout)
        return try await worker.run { [native] in
            var result: [TopicPartition: Watermarks] = [:]
            for topic in topics {
                for partition in 0..<(try partitionCount(native, topic: topic, timeoutMs: timeoutMs)) {
                    var low: Int64 = 0
                    var high: Int64 = 0
                    let err = rd_kafka_query_watermark_offsets(native.pointer, topic, partition, &low, &high, timeoutMs)
                    guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError(err, operation: "query watermarks of \(topic)[\(partition)]")
                    }
                    result[TopicPartition(topic: topic, partition: partition)] = Watermarks(low: low, high: high)
                }
            }
            return result
        }
    }

    public func close() async {
        guard markClosed() else { return }
        await worker.run { [native] in rd_kafka_destroy(native.pointer) }
        worker.stop()
    }

    /// True for the first caller only.
    private func markClosed() -> Bool {
        closeLock.withLock { defer { closed = true }; return !closed }
    }

    /// A reader dropped without `close()` still destroys its handle before the callbacks it
    /// points to are freed (librdkafka's threads would call into freed memory otherwise).
    deinit {
        guard markClosed() else { return }
        rd_kafka_destroy(native.pointer)
        worker.stop()
    }
}

/// Asks for one topic's metadata (which also tells the handle its leaders) and returns its
/// partition count; throws if the cluster does not know the topic. Blocks: call it off the pool.
func partitionCount(_ native: NativeHandle, topic: String, timeoutMs: Int32) throws -> Int32 {
    let topicHandle = rd_kafka_topic_new(native.pointer, topic, nil)
    defer { rd_kafka_topic_destroy(topicHandle) }
    var metadata: UnsafePointer<rd_kafka_metadata>?
    let err = rd_kafka_metadata(native.pointer, 0, topicHandle, &metadata, timeoutMs)
    guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
        throw KafkaError(err, operation: "fetch metadata of \(topic)")
    }
    defer { rd_kafka_metadata_destroy(metadata) }
    guard metadata.pointee.topic_cnt == 1, metadata.pointee.topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR,
          metadata.pointee.topics[0].partition_cnt > 0 else {
        let code = metadata.pointee.topic_cnt == 1 ? metadata.pointee.topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
        throw KafkaError(code, operation: "look up topic \(topic)")
    }
    return metadata.pointee.topics[0].partition_cnt
}
