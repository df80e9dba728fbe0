import CRdKafka
import Foundation
import Logging

extension KafkaConsumer {
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
}
