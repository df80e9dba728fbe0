import CRdKafka
import Foundation
import Logging

// MARK: - On the producer thread

extension KafkaProducer {
    /// On the producer thread: hands one call's records to librdkafka, in order.
    func hand(_ batch: DeliveryBatch) {
        let messages = batch.messages
        var lastTopic: (name: String, handle: OpaquePointer)?
        var index = messages.startIndex
        while index < messages.endIndex {
            let topic: OpaquePointer
            if let lastTopic, lastTopic.name == messages[index].topic {
                topic = lastTopic.handle
            } else {
                topic = topicHandle(messages[index].topic)
                lastTopic = (messages[index].topic, topic)
            }
            if let failure = enqueue(messages[index], topic: topic, opaque: batch.opaque(index)) {
                guard failure.isQueueFull else {
                    batch.complete(index, failure)
                    index += 1
                    continue
                }
                if stateLock.withLock({ closed }) {
                    // Closing while librdkafka's queue stays full (e.g. brokers unreachable).
                    for rest in index..<messages.endIndex {
                        batch.complete(rest, .local("producer is closed", operation: "produce"))
                    }
                    return
                }
                // Reports make room; `close()` ends this wait early through `wakePoller()`.
                rd_kafka_poll(handle, 10)
                continue
            }
            index += 1
            rd_kafka_poll(handle, 0) // serves reports as they come, like kcat
        }
    }

    private func topicHandle(_ name: String) -> OpaquePointer {
        stateLock.withLock {
            if let known = topicHandles[name] { return known }
            let created = rd_kafka_topic_new(handle, name, nil)!
            topicHandles[name] = created
            return created
        }
    }

    private func enqueue(_ message: OutgoingMessage, topic: OpaquePointer, opaque: UnsafeMutableRawPointer) -> KafkaError? {
        withOptionalBytes(message.key) { key in
            withOptionalBytes(message.value) { value in
                withHeaderFields(message.headers) { headerFields in
                    withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 6 + headerFields.count) { fields in
                        var count = 0
                        func add(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
                            var field = rd_kafka_vu_t()
                            field.vtype = type
                            fill(&field)
                            fields.initializeElement(at: count, to: field)
                            count += 1
                        }
                        add(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = topic }
                        if let key {
                            add(RD_KAFKA_VTYPE_KEY) {
                                $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress)
                                $0.u.mem.size = key.count
                            }
                        }
                        if let value {
                            add(RD_KAFKA_VTYPE_VALUE) {
                                $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                                $0.u.mem.size = value.count
                            }
                        }
                        if let partition = message.partition {
                            add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition }
                        }
                        add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                        add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque }
                        for header in headerFields { add(header.vtype) { $0 = header } }
                        guard let error = rd_kafka_produceva(handle, fields.baseAddress, count) else { return nil }
                        return KafkaError(consuming: error, operation: "produce to \(message.topic)")
                    }
                }
            }
        }
    }

}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBufferPointer { body($0) }
}

/// Header fields for `rd_kafka_produceva`; names and values stay valid during `body` (librdkafka copies them).
private func withHeaderFields<R>(_ headers: [KafkaHeader], _ body: ([rd_kafka_vu_t]) -> R) -> R {
    guard !headers.isEmpty else { return body([]) }
    // One contiguous buffer holds every name (NUL-terminated) followed by every value.
    var storage: [UInt8] = []
    var spans: [(name: Int, value: Int, valueLength: Int, hasValue: Bool)] = []
    for header in headers {
        let nameStart = storage.count
        storage.append(contentsOf: header.key.utf8)
        storage.append(0)
        let valueStart = storage.count
        if let value = header.value { storage.append(contentsOf: value) }
        spans.append((nameStart, valueStart, header.value?.count ?? 0, header.value != nil))
    }
    return storage.withUnsafeBufferPointer { buffer in
        let base = UnsafeRawPointer(buffer.baseAddress!)
        let fields = spans.map { span -> rd_kafka_vu_t in
            var field = rd_kafka_vu_t()
            field.vtype = RD_KAFKA_VTYPE_HEADER
            field.u.header.name = base.advanced(by: span.name).assumingMemoryBound(to: CChar.self)
            field.u.header.val = span.hasValue ? base.advanced(by: span.value) : nil
            field.u.header.size = span.hasValue ? span.valueLength : -1
            return field
        }
        return body(fields)
    }
}
