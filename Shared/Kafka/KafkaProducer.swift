import CRdKafka
import Foundation
import Locking
import Logging

/// An idempotent producer whose sends resume when the broker has acknowledged the record.
///
/// One dedicated thread does all the record work, as kcat does on its one thread: it hands
/// each call's records to librdkafka in call order and serves the delivery reports, each of
/// which completes the call that enqueued it. When librdkafka's local queue is full the thread
/// serves reports until there is room (back-pressure: the caller's `enqueue` waits) instead of
/// dropping or failing the record. Keeping enqueue and reports on one thread matters: with a
/// separate report thread, raw librdkafka loses throughput, because the records a thread
/// allocated are freed on another (malloc-arena contention) and every report batch costs a
/// wake-up; how much: `deploy/bench/results/2026-11-22-client-design.md`.
///
/// Where the parts are: this file runs the producer thread and the calls' lifecycle (enqueue,
/// flush, close); `KafkaProducer+Handing.swift` hands a call's records to librdkafka, and
/// `DeliveryBatch.swift` collects their delivery reports.
public final class KafkaProducer: @unchecked Sendable {
    private let native: NativeHandle
    var handle: OpaquePointer { native.pointer }
    private let callbacks: ClientCallbacks
    private let logger: Logger
    private let pollerDone = DispatchSemaphore(value: 0)
    /// Runs the blocking calls (flush, the wait for the poller at close) off Swift's pool.
    private let blocking = BlockingWorker(name: "kafka-producer-blocking")
    let stateLock = NSLock()
    private var polling = true
    var closed = false
    /// `enqueue` calls under way; `close()` waits for them, so no record reaches librdkafka
    /// after its final poll (its report would never come) or after the handle is gone.
    private var activeEnqueues = 0
    private var enqueuesDrained: CheckedContinuation<Void, Never>?
    /// Calls waiting for the producer thread, in call order.
    private var pendingCalls: [PendingCall] = []
    /// Topic handles by name. Created with rd_kafka_topic_new, which asks for the topic's
    /// metadata at once; producing by name instead waits for librdkafka's 1 s topic scan.
    var topicHandles: [String: OpaquePointer] = [:]

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

    private func endEnqueue() {
        let drained = stateLock.withLock { () -> CheckedContinuation<Void, Never>? in
            activeEnqueues -= 1
            guard activeEnqueues == 0 else { return nil }
            defer { enqueuesDrained = nil }
            return enqueuesDrained
        }
        drained?.resume()
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
