import CRdKafka
import Foundation
import Logging

extension KafkaConsumer {
    /// Waits up to `timeout` for the first message, then takes whatever else is already
    /// fetched, up to `maxMessages`. Returns an empty array when nothing arrived in time.
    public func poll(maxMessages: Int = 1000, timeout: Duration = .milliseconds(100)) async throws -> [ConsumedMessage] {
        let timeoutMs = milliseconds(timeout)
        return try await worker.run { [self] in
            guard !lock.withLock({ closed }) else { throw KafkaError.local("consumer is closed", operation: "poll") }
            var batch: [ConsumedMessage] = []
            // Wait for the first message only; then take what is already fetched, without waiting
            // (consume_batch_queue with a timeout would wait for a full batch).
            guard let polled = rd_kafka_consumer_poll(native.pointer, timeoutMs) else { return batch }
            defer { rd_kafka_message_destroy(polled) }
            // Sized from what is queued: a service's poll of a few records no longer reserves
            // room for a full batch, and a large poll is not copied as it grows.
            batch.reserveCapacity(min(maxMessages, 1 + Int(rd_kafka_queue_length(consumerQueue))))
            var first: UnsafeMutablePointer<rd_kafka_message_t>? = polled
            try withUnsafePointer(to: &first) { try convert(UnsafeBufferPointer(start: $0, count: 1), into: &batch) }
            var taken = 1
            // In chunks through one reused pointer buffer: a large maxMessages costs no large
            // allocation, and the messages are destroyed while still in cache.
            while taken < maxMessages {
                let wanted = min(maxMessages - taken, Self.chunkSize)
                let count = rd_kafka_consume_batch_queue(consumerQueue, 0, chunk, wanted)
                guard count > 0 else { break }
                taken += count
                defer { for i in 0..<count { rd_kafka_message_destroy(chunk[i]) } }
                try convert(UnsafeBufferPointer(start: chunk, count: count), into: &batch)
                if count < wanted { break }
            }
            return batch
        }
    }

    /// An endless sequence of non-empty batches; ends when the task is cancelled or the consumer closed.
    public func batches(maxMessages: Int = 1000) -> Batches {
        Batches(consumer: self, maxMessages: maxMessages)
    }

    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = [ConsumedMessage]
        let consumer: KafkaConsumer
        let maxMessages: Int

        public struct AsyncIterator: AsyncIteratorProtocol {
            let consumer: KafkaConsumer
            let maxMessages: Int

            public mutating func next() async throws -> [ConsumedMessage]? {
                while !Task.isCancelled {
                    if consumer.isClosed { return nil }
                    let batch = try await consumer.poll(maxMessages: maxMessages)
                    if !batch.isEmpty { return batch }
                }
                return nil
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(consumer: consumer, maxMessages: maxMessages)
        }
    }

    /// Copies every key and value of `messages` into one shared buffer (one allocation for the
    /// chunk, not two per record), then appends a `ConsumedMessage` per record.
    private func convert(_ messages: UnsafeBufferPointer<UnsafeMutablePointer<rd_kafka_message_t>?>,
                         into batch: inout [ConsumedMessage]) throws {
        var total = 0
        for case let message? in messages where message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            total += message.pointee.key_len + message.pointee.len
        }
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            for case let message? in messages where message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                _ = ByteSpan(copying: message.pointee.key, count: message.pointee.key_len, into: buffer, at: &initialized)
                _ = ByteSpan(copying: message.pointee.payload, count: message.pointee.len, into: buffer, at: &initialized)
            }
        }
        // The same walk again gives each record its spans, without an array of them.
        var end = 0
        for case let message? in messages {
            let record = message.pointee
            guard record.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                if record.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                let error = KafkaError(record.err, operation: "consume",
                                       message: record.payload.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: record.len), as: UTF8.self) })
                if rd_kafka_fatal_error(native.pointer, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR { throw error }
                if record.rkt != nil, record.partition >= 0 {
                    hooks.onPartitionError(TopicPartition(topic: topicName(record.rkt), partition: record.partition), error)
                } else {
                    logger.warning("\(error)")
                }
                continue
            }
            var headers: [KafkaHeader] = []
            var nativeHeaders: OpaquePointer?
            if rd_kafka_message_headers(message, &nativeHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, let nativeHeaders {
                var index = 0
                var name: UnsafePointer<CChar>?
                var data: UnsafeRawPointer?
                var size = 0
                while rd_kafka_header_get_all(nativeHeaders, index, &name, &data, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                    headers.append(KafkaHeader(key: String(cString: name!), value: copyBytes(data, size)))
                    index += 1
                }
            }
            var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            let timestamp = rd_kafka_message_timestamp(message, &timestampType)
            let key = ByteSpan(at: &end, source: record.key, count: record.key_len)
            let value = ByteSpan(at: &end, source: record.payload, count: record.len)
            batch.append(ConsumedMessage(topic: topicName(record.rkt), partition: record.partition, offset: record.offset,
                                         bytes: bytes, key: key, value: value, headers: headers,
                                         timestampMs: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp))
        }
    }

    private func topicName(_ handle: OpaquePointer?) -> String {
        guard let handle else { return "" }
        if let lastTopic, lastTopic.handle == handle { return lastTopic.name }
        let name: String
        if let known = topicNames[handle] {
            name = known
        } else {
            name = String(cString: rd_kafka_topic_name(handle))
            topicNames[handle] = name
        }
        lastTopic = (handle, name)
        return name
    }
}

/// A copy of librdkafka's bytes (which die with the message); nil stays nil.
/// (Array(UnsafeBufferPointer) compiles to a specialised allocation + memcpy; the
/// unsafeUninitializedCapacity initializer went through the generic runtime path.)
@inline(__always)
private func copyBytes(_ start: UnsafeRawPointer?, _ count: Int) -> [UInt8]? {
    guard let start else { return nil }
    return Array(UnsafeRawBufferPointer(start: start, count: count))
}
