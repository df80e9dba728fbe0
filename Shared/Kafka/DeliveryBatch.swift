import CRdKafka
import Foundation

/// The records of one `enqueue` call, on their way to the brokers.
public struct Deliveries: Sendable {
    let batch: DeliveryBatch

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
