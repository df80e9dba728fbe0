import Credentials
import DeadLetterQueue
import EventSchema
import Foundation
import Kafka
import Logging
import ServiceLifecycle

/// Reads every partition of the saga topics and deadletter.v1 from its start and then follows
/// it, feeding `SagaIndex`. It joins no consumer group (it reads everything, and it commits
/// nothing: a restarted console reads the topics again). Every record goes through the same
/// checks as the consumers' (`DecodedEvent`, `EventAuthenticator` against the topic's writer,
/// the key equal to the order id); a record that fails is indexed as rejected, never as an event.
struct TopicFollower: Service {
    let kafka: KafkaConfiguration
    let authenticator: EventAuthenticator
    let index: SagaIndex
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await follow()
        }
    }

    private func follow() async {
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await readAndFollow()
                return
            } catch is CancellationError {
                return
            } catch {
                attempt += 1
                logger.warning("reading the topics failed; starting again from the stored positions", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .seconds(min(10, attempt)))
            }
        }
    }

    private func readAndFollow() async throws {
        let reader = try KafkaWatermarkReader(configuration: kafka, logger: logger)
        let marks: [TopicPartition: Watermarks]
        do {
            marks = try await reader.watermarks(topics: SagaIndex.topics)
            await reader.close()
        } catch {
            await reader.close()
            throw error
        }
        index.start(ends: marks)
        var starts: [TopicPartition: Int64] = [:]
        for partition in marks.keys { starts[partition] = index.position(partition) ?? marks[partition]!.low }
        let consumer = try KafkaConsumer(configuration: kafka, partitions: starts, logger: logger)
        logger.notice("following the topics", metadata: ["partitions": "\(starts.count)",
                                                        "records": "\(marks.values.reduce(0) { $0 + $1.high - $1.low })"])
        do {
            while !Task.isCancelled {
                for message in try await consumer.poll(maxMessages: 5000, timeout: .milliseconds(200)) {
                    take(message)
                }
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    func take(_ message: ConsumedMessage) {
        if message.topic == TopicCatalog.deadLetters.name {
            switch DeadLetterRecord.read(message, authenticator: authenticator) {
            case .success(let letter): index.apply(letter: letter)
            case .failure(let skip): index.reject(.init(topic: message.topic, partition: message.partition, offset: message.offset, reason: skip.description))
            }
            return
        }
        let headers = message.headers.map { (name: $0.key, value: $0.value) }
        let decoded: DecodedEvent
        do {
            decoded = try DecodedEvent(headers: headers, payload: message.value, topic: message.topic)
        } catch {
            index.reject(.init(topic: message.topic, partition: message.partition, offset: message.offset, reason: "not an event: \(error)"))
            return
        }
        if case .rejected(let why) = authenticator.check(topic: message.topic, key: message.key, payload: message.value,
                                                         envelope: decoded.envelope, headers: headers) {
            index.reject(.init(topic: message.topic, partition: message.partition, offset: message.offset,
                               reason: "unauthenticated (\(decoded.envelope.eventType) for order \(decoded.envelope.orderId)): \(why)"))
            return
        }
        guard message.key == Array(decoded.envelope.orderId.utf8) else {
            index.reject(.init(topic: message.topic, partition: message.partition, offset: message.offset,
                               reason: "misrouted: the key is not its order-id \(decoded.envelope.orderId)"))
            return
        }
        index.apply(event: decoded.event, orderId: decoded.envelope.orderId, topic: message.topic, partition: message.partition,
                    offset: message.offset, timestampMs: message.timestampMs)
    }
}
