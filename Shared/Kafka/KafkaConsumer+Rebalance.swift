import CRdKafka
import Foundation
import Logging

// MARK: - On the poll thread

extension KafkaConsumer {
    func assign(_ partitions: [TopicPartition: Int64]) {
        let list = makeList(partitions.keys, offsets: partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_assign(native.pointer, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { logger.error("\(KafkaError(err, operation: "assign"))") }
    }

    func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
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
}

private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
