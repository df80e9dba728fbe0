import CRdKafka
import Foundation
import Logging

/// An idempotent producer whose sends resume when the broker has acknowledged the record.
///
/// One dedicated thread does all the record work, as kcat does on its one thread: it hands
/// each call's records to librdkafka in call order and serves the delivery reports, each of
/// which completes the call that enqueued it. When librdkafka's local queue is full the thread
/// serves reports until there is room (back-pressure: the caller's `enqueue` waits) instead of
/// dropping or failing the record. Keeping enqueue and reports on one thread matters: with a
/// separate report thread, raw librdkafka loses a fifth of its throughput (the records a thread
/// allocated are freed on another, with malloc-arena contention and a wake-up per report batch).
public final class KafkaProducer: @unchecked Sendable {
    private let native: NativeHandle
    private var handle: OpaquePointer { native.pointer }
    private let callbacks: ClientCallbacks
    private let logger: Logger
    private let pollerDone = DispatchSemaphore(value: 0)
    /// Runs the blocking calls (flush, the wait for the poller at close) off Swift's pool.
    private let blocking = BlockingWorker(name: "kafka-producer-blocking")
    private let stateLock = NSLock()
    private var polling = true
    private var closed = false
    /// `enqueue` calls under way; `close()` waits for them, so no record reaches librdkafka
    /// after its final poll (its report would never come) or after the handle is gone.
    private var activeEnqueues = 0
    private var enqueuesDrained: CheckedContinuation<Void, Never>?
    /// Calls waiting for the producer thread, in call order.
    private var pendingCalls: [PendingCall] = []
    /// Topic handles by name. Created with rd_kafka_topic_new, which asks for the topic's
    /// metadata at once; producing by name instead waits for librdkafka's 1 s topic scan.
    private var topicHandles: [String: OpaquePointer] = [:]

    public init(configuration: KafkaConfiguration, logger: Logger = Logger(label: "kafka.producer"),
                onStatistics: (@Sendable (String) -> Void)? = nil) throws {
        let configuration = configuration.merging(
            KafkaConfiguration.producerDefaults.filter { configuration[$0.key] == nil })
        self.logger = logger
        callbacks = ClientCallbacks(logger: logger, onStatistics: onStatistics)
        native = NativeHandle(pointer: try makeClientHandle(type: RD_KAFKA_PRODUCER, configuration: configuration, callbacks: callbacks) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
                guard let message, let opaque = message.pointee._private else { return }
                DeliveryBatch.complete(slot: opaque.assumingMemoryBound(to: DeliveryBatch.Slot.self), with: message)
            }
        })
        startThread(named: "kafka-producer") { [native, pollerDone, unowned(unsafe) self] in
            while true {
                let (calls, keepPolling) = self.stateLock.withLock { () -> ([PendingCall], Bool) in
                    defer { self.pendingCalls.removeAll(keepingCapacity: true) }
                    return (self.pendingCalls, self.polling)
                }
                if calls.isEmpty {
                    guard keepPolling else { break }
                    // Serves delivery reports (and log/stats callbacks); a new call or a report
                    // ends the wait at once.
                    rd_kafka_poll(native.pointer, 10)
                    continue
                }
                for call in calls {
                    self.hand(call.batch)
                    call.accepted.resume()
                    self.endEnqueue()
                }
            }
            pollerDone.signal()
        }
    }

    private struct PendingCall {
        let batch: DeliveryBatch
        let accepted: CheckedContinuation<Void, Never>
    }

    /// Ends the poller's current wait now rather than at its timeout (rd_kafka_yield would only
    /// work from inside a callback).
    private func wakePoller() {
        let main = rd_kafka_queue_get_main(handle)
        rd_kafka_queue_yield(main)
        rd_kafka_queue_destroy(main)
    }

    /// A producer dropped without `close()` still stops its poller before the handle goes
    /// (unacknowledged records are lost then: call `close()`).
    deinit {
        guard !closed else { return }
        stateLock.withLock { polling = false }
        wakePoller()
        pollerDone.wait()
        topicHandles.values.forEach { rd_kafka_topic_destroy($0) }
        rd_kafka_destroy(handle)
        blocking.stop()
    }

    /// The latest statistics JSON (needs `statistics.interval.ms` > 0).
    public var latestStatistics: String? { callbacks.latestStatistics }

    /// Records enqueued locally and not yet acknowledged by a broker.
    public var outstandingCount: Int { Int(rd_kafka_outq_len(handle)) }

    /// Sends one record and returns once the broker acknowledged it.
    public func send(_ message: OutgoingMessage) async throws -> DeliveryReport {
        try await send([message])[0].get()
    }

    /// Enqueues every record (in order, so records of one key keep their order) and returns
    /// each one's outcome once all are acknowledged or failed. A failed record does not stop
    /// the others; callers that need all-or-nothing check every result.
    public func send(_ messages: [OutgoingMessage]) async throws -> [Result<DeliveryReport, KafkaError>] {
        await enqueue(messages).results()
    }

    /// Hands every record to librdkafka, in order, and returns once it holds them all (waiting
    /// for room while its queue is full), before any is acknowledged. Records of a later call
    /// follow these, so a caller can keep several calls in flight, a window, and still keep
    /// per-key order; `Deliveries.results()` gives the outcomes.
    public func enqueue(_ messages: [OutgoingMessage]) async -> Deliveries {
        await enqueue(messages, onDelivery: nil)
    }

    /// Like `enqueue(_:)`, and calls `onDelivery` with each record's index and outcome as soon as
    /// that record is acknowledged or failed (on the producer's thread: keep it short), so that a
    /// caller does not wait for the slowest record of the call to act on the others.
    public func enqueue(_ messages: [OutgoingMessage],
                        onDelivery: (@Sendable (Int, Result<DeliveryReport, KafkaError>) -> Void)?) async -> Deliveries {
        let batch = DeliveryBatch(messages, onDelivery: onDelivery)
        guard !messages.isEmpty else { return Deliveries(batch: batch) }
        await withCheckedContinuation { accepted in
            let queued = stateLock.withLock { () -> Bool in
                guard !closed else { return false }
                activeEnqueues += 1
                pendingCalls.append(PendingCall(batch: batch, accepted: accepted))
                return true
            }
            guard queued else {
                for index in messages.indices { batch.complete(index, .local("producer is closed", operation: "produce")) }
                accepted.resume()
                return
            }
            wakePoller()
        }
        return Deliveries(batch: batch)
    }

    /// On the producer thread: hands one call's records to librdkafka, in order.
    private func hand(_ batch: DeliveryBatch) {
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

    private func endEnqueue() {
        let drained = stateLock.withLock { () -> CheckedContinuation<Void, Never>? in
            activeEnqueues -= 1
            guard activeEnqueues == 0 else { return nil }
            defer { enqueuesDrained = nil }
            return enqueuesDrained
        }
        drained?.resume()
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

    /// Waits until every enqueued record is acknowledged or failed, at most `timeout`.
    /// Returns the number still outstanding.
    @discardableResult
    public func flush(timeout: Duration = .seconds(10)) async -> Int {
        let native = native
        let timeoutMs = milliseconds(timeout)
        return await blocking.run {
            _ = rd_kafka_flush(native.pointer, timeoutMs)
            return Int(rd_kafka_outq_len(native.pointer))
        }
    }

    /// Flushes (bounded), fails whatever is still queued, stops the poller and frees the handle.
    public func close(flushTimeout: Duration = .seconds(10)) async {
        guard stateLock.withLock({ () -> Bool in
            defer { closed = true }
            return !closed
        }) else { return }
        wakePoller() // a call waiting for room sees `closed` and fails its remaining records
        await withCheckedContinuation { continuation in
            let drained = stateLock.withLock { () -> Bool in
                if activeEnqueues == 0 { return true }
                enqueuesDrained = continuation
                return false
            }
            if drained { continuation.resume() }
        }
        let left = await flush(timeout: flushTimeout)
        if left > 0 { logger.warning("closing producer with \(left) unacknowledged records; they fail as purged") }
        rd_kafka_purge(handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        stateLock.withLock { polling = false }
        wakePoller()
        await blocking.run { [pollerDone, native] in
            pollerDone.wait()
            rd_kafka_poll(native.pointer, 0) // delivers the purge failures to their senders
        }
        stateLock.withLock { topicHandles.values.forEach { rd_kafka_topic_destroy($0) } }
        rd_kafka_destroy(handle)
        blocking.stop()
    }
}

/// The records of one `enqueue` call, on their way to the brokers.
public struct Deliveries: Sendable {
    fileprivate let batch: DeliveryBatch

    /// Each record's outcome, in enqueue order, once every one is acknowledged or failed.
    public func results() async -> [Result<DeliveryReport, KafkaError>] {
        await batch.results()
    }
}


/// The outcomes of one `enqueue` call, completed from the delivery-report callback.
///
/// Each record's opaque points at its slot in one buffer allocated per call (not one object
/// per record). The poller thread writes a report into its slot and counts down atomically:
/// no lock and no reference count per record. The batch keeps itself alive (one retain) until
/// the last report, and only that last one takes the lock, to hand the batch to its waiter.
/// The `Result`s (with their topic strings) are built once, by the waiting caller.
final class DeliveryBatch: @unchecked Sendable {
    /// 24 bytes, so that the poller thread's writes touch as few cache lines as possible.
    struct Slot {
        unowned(unsafe) let batch: DeliveryBatch
        var error = RD_KAFKA_RESP_ERR_NO_ERROR
        var partition: Int32 = -1
        var offset: Int64 = -1
    }

    /// The call's records, held until the batch ends (one retain for the array).
    let messages: [OutgoingMessage]
    private let slots: UnsafeMutablePointer<Slot>
    /// Records without an outcome yet; stepped down by `kafka_countdown`.
    private let remaining: UnsafeMutablePointer<Int>
    /// Records that never reached librdkafka (closed producer, refused by produceva). Written
    /// only by the enqueuing caller, read after the countdown: no lock needed.
    private var localFailures: [Int: KafkaError] = [:]
    private let lock = NSLock()
    private var done: Bool
    private var waiter: CheckedContinuation<Void, Never>?
    private let onDelivery: (@Sendable (Int, Result<DeliveryReport, KafkaError>) -> Void)?

    init(_ messages: [OutgoingMessage], onDelivery: (@Sendable (Int, Result<DeliveryReport, KafkaError>) -> Void)? = nil) {
        self.messages = messages
        self.onDelivery = onDelivery
        let count = messages.count
        slots = .allocate(capacity: count)
        remaining = .allocate(capacity: 1)
        remaining.initialize(to: count)
        done = count == 0
        for index in 0..<count {
            (slots + index).initialize(to: Slot(batch: self))
        }
        // Released by whoever delivers the last outcome, so reports never outlive the batch
        // even if the caller drops it without awaiting.
        if count > 0 { _ = Unmanaged.passRetained(self) }
    }

    deinit {
        slots.deinitialize(count: messages.count)
        slots.deallocate()
        remaining.deallocate()
    }

    /// The opaque for record `index`.
    func opaque(_ index: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(slots + index)
    }

    static func complete(slot: UnsafeMutablePointer<Slot>, with message: UnsafePointer<rd_kafka_message_t>) {
        let record = message.pointee
        slot.pointee.error = record.err
        slot.pointee.partition = record.partition
        slot.pointee.offset = record.offset
        let batch = slot.pointee.batch
        if let onDelivery = batch.onDelivery { onDelivery(slot - batch.slots, batch.result(slot - batch.slots)) }
        batch.countDown()
    }

    /// A record that failed before librdkafka took it.
    func complete(_ index: Int, _ failure: KafkaError) {
        localFailures[index] = failure
        onDelivery?(index, .failure(failure))
        countDown()
    }

    /// Record `index`'s outcome, once its slot or local failure is written.
    private func result(_ index: Int) -> Result<DeliveryReport, KafkaError> {
        if !localFailures.isEmpty, let failure = localFailures[index] { return .failure(failure) }
        let slot = slots[index]
        guard slot.error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .failure(KafkaError(slot.error, operation: "deliver to \(messages[index].topic)"))
        }
        return .success(DeliveryReport(topic: messages[index].topic, partition: slot.partition, offset: slot.offset))
    }

    private func countDown() {
        guard kafka_countdown(remaining) == 0 else { return }
        let continuation = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            done = true
            defer { waiter = nil }
            return waiter
        }
        continuation?.resume()
        Unmanaged.passUnretained(self).release()
    }

    func results() async -> [Result<DeliveryReport, KafkaError>] {
        await withCheckedContinuation { continuation in
            let finished = lock.withLock { () -> Bool in
                if done { return true }
                waiter = continuation
                return false
            }
            if finished { continuation.resume() }
        }
        // Every outcome is in (the countdown and the lock handed them over): nothing writes any more.
        return messages.indices.map(result)
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
