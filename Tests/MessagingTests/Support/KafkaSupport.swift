@testable import DevClusterTesting
import EventSchema
import Foundation
import Kafka
import Logging
import Messaging
import XCTest

extension DevClusterHarness {
    /// Client properties for tests: the dev cluster tuning.
    var kafka: KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: bootstrap).merging(KafkaConfiguration.devClusterTuning)
    }

    var producerConfiguration: KafkaConfiguration {
        var configuration = KafkaConfiguration(bootstrapServers: bootstrap)
        configuration["reconnect.backoff.max.ms"] = "1000"
        return configuration
    }

    /// Sends records and fails the test unless all are acknowledged.
    func produce(_ messages: [OutgoingMessage]) async throws {
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: quietLogger("test.producer"))
        let results = try await producer.send(messages)
        await producer.close()
        for result in results { _ = try result.get() }
    }
}

func quietLogger(_ label: String, level: Logger.Level = .warning) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = level
    return logger
}

/// A record read back, with the envelope fields the ordering checks need.
struct ReadRecord {
    let message: ConsumedMessage
    var eventId: String? { message.header(EventEnvelope.Header.eventId).map { String(decoding: $0, as: UTF8.self) } }
    var orderId: String? { message.header(EventEnvelope.Header.orderId).map { String(decoding: $0, as: UTF8.self) } }
    var sequence: Int64? { message.header(EventEnvelope.Header.sequence).flatMap { Int64(String(decoding: $0, as: UTF8.self)) } }
}

enum TopicReader {
    /// Every record of `topic` (all partitions, from the beginning): polls until at least
    /// `minimum` arrived and then nothing more for `quiet`.
    static func read(_ cluster: DevClusterHarness, topic: String, minimum: Int, partitions: Int32 = 12,
                     quiet: Duration = .milliseconds(700), timeout: TimeInterval = 60) async throws -> [ReadRecord] {
        let assignment = Dictionary(uniqueKeysWithValues: (0..<partitions).map {
            (TopicPartition(topic: topic, partition: $0), KafkaConsumer.beginning)
        })
        let consumer = try KafkaConsumer(configuration: cluster.kafka, partitions: assignment, logger: quietLogger("test.reader"))
        defer { Task { await consumer.close() } }
        var records: [ReadRecord] = []
        let deadline = Date().addingTimeInterval(timeout)
        var lastArrival = ContinuousClock.now
        while true {
            let batch = try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(100))
            records += batch.map(ReadRecord.init)
            if !batch.isEmpty { lastArrival = .now }
            if records.count >= minimum && ContinuousClock.now - lastArrival >= quiet { break }
            if Date() > deadline {
                throw TestTimeout(what: "\(minimum) records on \(topic) (got \(records.count))")
            }
        }
        await consumer.close()
        return records
    }

    /// Per order: the sequences of the first copy of each event, in offset order (a partition
    /// holds every event of an order, so offset order is the order consumers see).
    static func firstSequencesByOrder(_ records: [ReadRecord]) -> [String: [Int64]] {
        var seen = Set<String>()
        var result: [String: [Int64]] = [:]
        let ordered = records.sorted { ($0.message.partition, $0.message.offset) < ($1.message.partition, $1.message.offset) }
        for record in ordered {
            guard let id = record.eventId, seen.insert(id).inserted, let order = record.orderId, let sequence = record.sequence else { continue }
            result[order, default: []].append(sequence)
        }
        return result
    }
}

/// Runs a consumer runtime in a task; `stop()` ends it and rethrows its error.
final class RunningRuntime: @unchecked Sendable {
    let runtime: ConsumerRuntime
    private let task: Task<Void, Error>

    init(_ runtime: ConsumerRuntime) {
        self.runtime = runtime
        task = Task { try await runtime.run() }
    }

    func stop() async throws {
        runtime.stop()
        try await task.value
    }
}
