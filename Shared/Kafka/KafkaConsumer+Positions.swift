import CRdKafka
import Foundation
import Logging

extension KafkaConsumer {
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
}
