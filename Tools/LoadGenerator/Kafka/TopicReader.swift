import Credentials
import EventSchema
import Kafka
import Logging

/// Reads the saga topics from their first stored offset up to the end they had when the read
/// started: a consistent cut for the audit, which later records (if any) do not blur.
enum TopicReader {
    static let sagaTopics = [TopicCatalog.orders, TopicCatalog.inventory, TopicCatalog.payments, TopicCatalog.notifications].map(\.name)

    struct Contents: Sendable {
        var records: [AuditSnapshot.TopicRecord]
        var undecodable: [String]
        /// Every partition's extent when the read started (the cut).
        var watermarks: [PartitionRef: Watermarks] = [:]
    }

    static func read(configuration: KafkaConfiguration, topics: [String] = sagaTopics, timeout: Duration,
                     authenticator: EventAuthenticator?, clock: any LoadClock = SystemLoadClock(), logger: Logger) async throws -> Contents {
        let watermarks = try await TopicExtent.watermarks(of: topics, configuration: configuration, logger: logger)
        var remaining = watermarks.filter { $0.value.high > $0.value.low }
        var contents = Contents(records: [], undecodable: [], watermarks: Dictionary(uniqueKeysWithValues: watermarks.map {
            (PartitionRef(topic: $0.key.topic, partition: $0.key.partition), $0.value)
        }))
        guard !remaining.isEmpty else { return contents }

        var partitionCounts: [String: Int32] = [:]
        for partition in watermarks.keys { partitionCounts[partition.topic, default: 0] += 1 }
        let consumer = try KafkaConsumer(configuration: configuration, partitions: remaining.mapValues(\.low), logger: logger)
        let deadline = clock.now() + timeout
        while !remaining.isEmpty {
            guard clock.now() < deadline else {
                await consumer.close()
                let left = remaining.keys.map(\.description).sorted().prefix(5).joined(separator: ", ")
                throw LoadGenError("could not read the saga topics to their end within \(timeout) (still missing \(left)…); raise --topic-read-timeout or check the brokers")
            }
            let batch: [ConsumedMessage]
            do {
                batch = try await consumer.poll(maxMessages: 5000, timeout: .milliseconds(200))
            } catch {
                await consumer.close()
                throw LoadGenError("reading the saga topics failed: \(error)")
            }
            for message in batch {
                guard let end = remaining[message.topicPartition]?.high, message.offset < end else { continue }
                switch TopicRecordDecoder.decode(message, partitionCount: partitionCounts[message.topic], authenticator: authenticator) {
                case .success(let record): contents.records.append(record)
                case .failure(let failure): contents.undecodable.append(failure.description)
                }
                if message.offset + 1 >= end { remaining[message.topicPartition] = nil }
            }
        }
        await consumer.close()
        return contents
    }
}
