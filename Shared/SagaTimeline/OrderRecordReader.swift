import Credentials
import EventSchema
import Foundation
import Kafka
import Logging

/// Reads one order's records. Every event of an order is keyed by its id, so it lives in one
/// partition per topic (murmur2 of the key, design §2): only those partitions are read, from
/// their first stored offset (or where a caller's index says the order starts) to the end they
/// had when the read started.
///
/// Given an authenticator, a record that its topic's writer did not sign is not an event of the
/// order: it is returned apart, as `rejected`, so that a page shows it as what it is.
public struct OrderRecordReader: Sendable {
    public let kafka: KafkaConfiguration
    public let authenticator: EventAuthenticator?
    public let timeout: Duration
    public let logger: Logger

    public static let sagaTopics = [TopicCatalog.orders, TopicCatalog.inventory, TopicCatalog.payments, TopicCatalog.notifications].map(\.name)
    public static let topics = sagaTopics + [TopicCatalog.deadLetters.name]

    public init(kafka: KafkaConfiguration, authenticator: EventAuthenticator?, timeout: Duration, logger: Logger) {
        self.kafka = kafka
        self.authenticator = authenticator
        self.timeout = timeout
        self.logger = logger
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// A record keyed by the order that is not one of its events.
    public struct Rejected: Sendable, Equatable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var reason: String

        public init(topic: String, partition: Int32, offset: Int64, reason: String) {
            self.topic = topic
            self.partition = partition
            self.offset = offset
            self.reason = reason
        }
    }

    public struct Contents: Sendable {
        public var records: [OrderTimeline.Record]
        public var rejected: [Rejected]
        /// What was read of each topic's home partition of the order (offsets `lowerBound..<upperBound`).
        public var extents: [TopicPartition: Range<Int64>]

        public init(records: [OrderTimeline.Record], rejected: [Rejected] = [], extents: [TopicPartition: Range<Int64>] = [:]) {
            self.records = records
            self.rejected = rejected
            self.extents = extents
        }
    }

    /// The home partition of `orderId` in a topic of `partitionCount` partitions.
    public static func home(of orderId: String, topic: String, partitionCount: Int32) -> TopicPartition {
        TopicPartition(topic: topic, partition: Murmur2Partitioner.partition(forKey: Array(orderId.utf8), partitionCount: partitionCount))
    }

    /// `within`: per topic, the offsets of its home partition to read (cut to what the log
    /// holds); a topic not named is read whole.
    public func read(orderId: String, within plan: [String: Range<Int64>] = [:]) async throws -> Contents {
        let watermarks = try await watermarks()
        var counts: [String: Int32] = [:]
        for partition in watermarks.keys { counts[partition.topic, default: 0] += 1 }
        var extents: [TopicPartition: Range<Int64>] = [:]
        for (topic, count) in counts {
            let home = Self.home(of: orderId, topic: topic, partitionCount: count)
            guard let marks = watermarks[home] else { continue }
            let wanted = plan[topic] ?? (marks.low..<marks.high)
            let lower = max(marks.low, wanted.lowerBound), upper = min(marks.high, wanted.upperBound)
            if lower < upper { extents[home] = lower..<upper }
        }
        guard !extents.isEmpty else { return Contents(records: [], rejected: [], extents: [:]) }
        let consumer = try KafkaConsumer(configuration: kafka, partitions: extents.mapValues(\.lowerBound), logger: logger)
        do {
            var contents = try await read(consumer, extents, key: Array(orderId.utf8), partitionCounts: counts)
            await consumer.close()
            contents.extents = extents
            return contents
        } catch {
            await consumer.close()
            throw error
        }
    }

    private func watermarks() async throws -> [TopicPartition: Watermarks] {
        let reader = try KafkaWatermarkReader(configuration: kafka, logger: logger)
        do {
            let watermarks = try await reader.watermarks(topics: Self.topics)
            await reader.close()
            return watermarks
        } catch {
            await reader.close()
            throw Failure(description: "cannot find the extent of \(Self.topics.joined(separator: ", ")) (\(error)); is Kafka reachable and are the topics created?")
        }
    }

    private func read(_ consumer: KafkaConsumer, _ extents: [TopicPartition: Range<Int64>], key: [UInt8],
                      partitionCounts: [String: Int32]) async throws -> Contents {
        var remaining = extents
        let deadline = ContinuousClock.now + timeout
        var contents = Contents(records: [], rejected: [], extents: [:])
        while !remaining.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "could not read \(remaining.keys.map(\.description).sorted().joined(separator: ", ")) to the end within \(timeout)")
            }
            for message in try await consumer.poll(maxMessages: 5000, timeout: .milliseconds(200)) {
                guard let range = remaining[message.topicPartition], range.contains(message.offset) else { continue }
                if message.offset + 1 >= range.upperBound { remaining[message.topicPartition] = nil }
                guard message.key == key else { continue }
                switch check(message) {
                case .success(let envelope):
                    contents.records.append(OrderTimeline.Record(topic: message.topic, partition: message.partition, offset: message.offset,
                                                                 timestampMs: message.timestampMs, envelope: envelope))
                case .failure(let failure):
                    contents.rejected.append(Rejected(topic: message.topic, partition: message.partition, offset: message.offset,
                                                      reason: failure.description))
                }
            }
        }
        contents.records.sort { ($0.topic, $0.offset) < ($1.topic, $1.offset) }
        return contents
    }

    /// The record's envelope when it is an event its topic's writer signed.
    private func check(_ message: ConsumedMessage) -> Result<EventEnvelope, Failure> {
        let headers = message.headers.map { (name: $0.key, value: $0.value) }
        let envelope: EventEnvelope
        do {
            envelope = try EventEnvelope(headers: headers)
        } catch {
            return .failure(Failure(description: "no valid envelope: \(error)"))
        }
        if let authenticator,
           case .rejected(let why) = authenticator.check(topic: message.topic, key: message.key, payload: message.value,
                                                         envelope: envelope, headers: headers) {
            return .failure(Failure(description: "not signed by the topic's writer: \(why)"))
        }
        return .success(envelope)
    }
}
