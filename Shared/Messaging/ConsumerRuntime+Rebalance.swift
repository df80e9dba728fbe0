import Foundation
import Kafka
import Persistence

/// The rebalance hooks (on the consumer's poll thread, between batches) and the held partitions.
extension ConsumerRuntime {
    /// Where each newly assigned partition starts (`PartitionBook.assignment`): the stored
    /// offset + 1, whatever Kafka's committed offset says; held or accepted on an anomaly.
    func assigned(_ partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        let group = configuration.groupID
        let stored = try await database.read { connection in try OffsetStore.load(group: group, on: connection) }
        let consumer = state.value.consumer
        let withHistory = partitions.filter { (stored[$0] ?? -1) >= 0 }
        // A round trip per partition, only for partitions this database has processed before.
        let marks = try withHistory.isEmpty ? [:] : consumer?.queryWatermarks(withHistory) ?? [:]
        var starts: [TopicPartition: Int64] = [:]
        var fresh: [TopicPartition: PartitionBook.Partition] = [:]
        for partition in partitions {
            let assignment = PartitionBook.assignment(stored: stored[partition], marks: marks[partition],
                                                      policy: configuration.offsetAnomalyPolicy)
            if let anomaly = assignment.anomaly {
                count { $0.add(anomaly) }
                if assignment.resetsStoredOffset {
                    let accepted = assignment.partition.lastProcessed
                    try await database.write { try OffsetStore.reset(group: group, partition: partition, lastProcessed: accepted, on: $0) }
                    logger.error("\(partition): \(anomaly); accepting the log as it is: reading from its start, offset \(assignment.start)")
                } else {
                    logger.error("holding \(partition): \(anomaly); reset its stored offset (kafka-tool offsets reset) or run with OFFSET_ANOMALY=accept")
                }
            }
            fresh[partition] = assignment.partition
            starts[partition] = assignment.start
        }
        state.update { $0.book.assign(fresh) }
        logger.info("partitions assigned", metadata: [
            "starts": "\(starts.sorted { $0.key.description < $1.key.description }.map { "\($0.key)@\($0.value == KafkaConsumer.paused ? "held" : "\($0.value)")" })",
        ])
        return starts
    }

    func revoked(_ partitions: [TopicPartition], lost: Bool) async {
        // What this member skipped in memory is stored before the next owner starts (not when
        // the group already gave the partitions away: then the next owner may be ahead).
        if !lost { await storeUnstoredOffsets(force: true, only: Set(partitions)) }
        state.update { $0.book.revoke(partitions) }
    }

    /// On the poll thread: librdkafka cannot fetch from a partition's position (with
    /// `auto.offset.reset=error`, e.g. retention deleted records this consumer had not read yet).
    func partitionFailed(_ partition: TopicPartition, _ error: KafkaError) {
        guard error.code == KafkaError.autoOffsetReset || error.code == KafkaError.offsetOutOfRange else {
            logger.warning("\(partition): \(error)")
            return
        }
        let newlyHeld = counting { state -> Bool in
            guard state.book.holdForLostPosition(partition, message: error.message) else { return false }
            state.stats.offsetsBeforeLogStart += 1
            return true
        }
        guard newlyHeld else { return }
        logger.error("holding \(partition): its fetch position left the log (\(error)); reset its stored offset (kafka-tool offsets reset) or run with OFFSET_ANOMALY=accept")
    }

    func pauseNewlyHeld(_ consumer: KafkaConsumer) async {
        let unpaused = state.value.book.heldButNotPaused
        guard !unpaused.isEmpty else { return }
        do {
            try await consumer.pause(unpaused)
            state.update { $0.book.paused(unpaused) }
        } catch {
            logger.warning("cannot pause held partitions \(unpaused): \(error)")
        }
    }

    /// Held partitions whose stored offset now fits the log are released: seek to the stored
    /// offset + 1, resume.
    func recheckHeldPartitions(_ consumer: KafkaConsumer) async {
        let held = Array(state.value.book.held)
        guard !held.isEmpty else { return }
        let group = configuration.groupID
        do {
            let stored = try await database.read { connection in try OffsetStore.load(group: group, on: connection) }
            let marks = try consumer.queryWatermarks(held)
            let release = state.update { $0.book.recheckHeld(stored: stored, marks: marks) }
            guard !release.isEmpty else { return }
            try await consumer.seek(release.mapValues { $0 >= 0 ? $0 + 1 : KafkaConsumer.beginning })
            try await consumer.resume(Array(release.keys))
            state.update { $0.book.release(release) }
            for (partition, last) in release {
                logger.notice("released \(partition): its stored offset \(last) fits the log again")
            }
        } catch {
            logger.warning("cannot look at held partitions again: \(error)")
        }
    }
}
