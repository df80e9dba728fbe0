import Credentials
import EventSchema
import Foundation
import Kafka
import Logging

/// Reads deadletter.v1 from its first stored offset to the end it had when the read started.
public enum DeadLetterReader {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public struct Contents: Sendable {
        /// Oldest first.
        public var letters: [DeadLetterRecord]
        /// Records that are not listed, and why (not a dead letter, or not signed by a service).
        public var skipped: [DeadLetterRecord.Skip]
    }

    /// Letters a service did not sign (anyone can write to the topic on a bus without ACLs) are
    /// skipped: replaying a forged letter would replay whatever it says.
    public static func readAll(configuration: KafkaConfiguration, authenticator: EventAuthenticator,
                               timeout: Duration = .seconds(60), logger: Logger) async throws -> Contents {
        let topic = TopicCatalog.deadLetters.name
        let reader = try KafkaWatermarkReader(configuration: configuration, logger: logger)
        let marks: [TopicPartition: Watermarks]
        do {
            marks = try await reader.watermarks(topics: [topic])
        } catch {
            await reader.close()
            throw Failure(description: "cannot read \(topic): \(error)")
        }
        await reader.close()
        var remaining = marks.filter { $0.value.high > $0.value.low }
        var contents = Contents(letters: [], skipped: [])
        guard !remaining.isEmpty else { return contents }
        let consumer = try KafkaConsumer(configuration: configuration, partitions: remaining.mapValues(\.low), logger: logger)
        let deadline = ContinuousClock.now + timeout
        do {
            while !remaining.isEmpty {
                guard ContinuousClock.now < deadline else {
                    throw Failure(description: "could not read \(topic) to its end within \(timeout); are the brokers up?")
                }
                for message in try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(200)) {
                    guard let end = remaining[message.topicPartition]?.high, message.offset < end else { continue }
                    if message.offset + 1 >= end { remaining[message.topicPartition] = nil }
                    switch DeadLetterRecord.read(message, authenticator: authenticator) {
                    case .success(let letter): contents.letters.append(letter)
                    case .failure(let skip): contents.skipped.append(skip)
                    }
                }
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
        contents.letters.sort { ($0.producedAtUnixMs, $0.partition, $0.offset) < ($1.producedAtUnixMs, $1.partition, $1.offset) }
        return contents
    }
}
