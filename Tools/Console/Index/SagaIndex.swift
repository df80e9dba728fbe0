import DeadLetterQueue
import EventSchema
import Foundation
import Kafka

/// The console's read model, built from the topics by `TopicFollower`: every order with its
/// customer, state and where its records are; every dead letter a service signed; every record
/// that was not what it claimed (shown as such, never as an event); the recent terminal orders
/// and notifications for the live page. Reads take a lock for microseconds; pages never wait
/// on Kafka for a listing.
final class SagaIndex: @unchecked Sendable {
    static let topics = [TopicCatalog.orders, TopicCatalog.inventory, TopicCatalog.payments,
                         TopicCatalog.notifications, TopicCatalog.deadLetters].map(\.name)
    static let maxRejected = 1000
    static let rateWindowMs: Int64 = 60_000

    /// A record that is not an event its topic's writer signed (or not a record of the saga at all).
    struct Rejected: Sendable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var reason: String
    }

    struct Progress: Sendable {
        /// Records read since start, and the records the topics held when the console started.
        var read: Int64
        var initialBacklog: Int64
        var caughtUp: Bool
        var orders: Int
        var deadLetters: Int
        var rejected: Int
    }

    private let lock = NSLock()
    private var entries: [OrderEntry] = []
    private var positionOf: [String: Int] = [:]
    private var ordersOfCustomer: [String: [Int]] = [:]
    private var letters: [DeadLetterRecord] = []
    private var letterPosition: [UUID: Int] = [:]
    private var rejectedRecords: [Rejected] = []
    private var rejectedCount = 0
    private var next: [TopicPartition: Int64] = [:]
    private var initialEnds: [TopicPartition: Int64] = [:]
    private var readCount: Int64 = 0
    private var caughtUp = false
    /// Terminal events by the time their record was written (for rates), oldest first.
    private var terminalTimes: [(ms: Int64, confirmed: Bool)] = []
    let live = LiveBroadcaster()

    // MARK: - writing (the follower)

    func start(ends: [TopicPartition: Watermarks]) {
        lock.withLock {
            for (partition, marks) in ends {
                next[partition] = marks.low
                if marks.high > marks.low { initialEnds[partition] = marks.high }
            }
            caughtUp = initialEnds.isEmpty
        }
    }

    /// A saga event its writer signed.
    func apply(event: SagaEvent, orderId: String, topic: String, partition: Int32, offset: Int64, timestampMs: Int64?) {
        let topicIndex = Self.topics.firstIndex(of: topic) ?? 0
        var announcement: LiveEvent?
        lock.withLock {
            let position = entryPosition(orderId)
            var entry = entries[position]
            let before = entry.state
            let hadCustomer = !entry.customerId.isEmpty
            entry.record(topicIndex: topicIndex, partition: partition, offset: offset)
            entry.apply(event)
            entries[position] = entry
            if !hadCustomer, !entry.customerId.isEmpty { ordersOfCustomer[entry.customerId, default: []].append(position) }
            let time = timestampMs ?? Int64(Date().timeIntervalSince1970 * 1000)
            if before == .pending, entry.state != .pending {
                terminalTimes.append((time, entry.state == .confirmed))
                pruneTerminalTimes(now: time)
                if caughtUp { announcement = LiveEvent(kind: entry.state == .confirmed ? "confirmed" : "cancelled", entry: entry, atMs: time) }
            }
            if case .notificationSent(let sent) = event, caughtUp {
                announcement = LiveEvent(kind: "notification", orderId: orderId, customerId: sent.customerID,
                                         detail: sent.kind == .orderConfirmed ? "order confirmed" : "order cancelled", atMs: time)
            }
            advance(topic: topic, partition: partition, offset: offset)
        }
        if let announcement { live.publish(announcement) }
    }

    func apply(letter: DeadLetterRecord) {
        lock.withLock {
            if letterPosition[letter.id] == nil {
                letterPosition[letter.id] = letters.count
                letters.append(letter)
                if !letter.letter.orderID.isEmpty {
                    let position = entryPosition(letter.letter.orderID)
                    entries[position].deadLetters += 1
                    entries[position].record(topicIndex: Self.topics.count - 1, partition: letter.partition, offset: letter.offset)
                }
            }
            advance(topic: TopicCatalog.deadLetters.name, partition: letter.partition, offset: letter.offset)
        }
    }

    func reject(_ rejected: Rejected) {
        lock.withLock {
            rejectedCount += 1
            rejectedRecords.append(rejected)
            if rejectedRecords.count > Self.maxRejected { rejectedRecords.removeFirst(rejectedRecords.count - Self.maxRejected) }
            advance(topic: rejected.topic, partition: rejected.partition, offset: rejected.offset)
        }
    }

    /// Called with the lock held.
    private func advance(topic: String, partition: Int32, offset: Int64) {
        let key = TopicPartition(topic: topic, partition: partition)
        next[key] = max(next[key] ?? 0, offset + 1)
        readCount += 1
        if !caughtUp, let end = initialEnds[key], offset + 1 >= end {
            initialEnds[key] = nil
            caughtUp = initialEnds.isEmpty
        }
    }

    private func entryPosition(_ orderId: String) -> Int {
        if let position = positionOf[orderId] { return position }
        entries.append(OrderEntry(orderId: orderId))
        positionOf[orderId] = entries.count - 1
        return entries.count - 1
    }

    private func pruneTerminalTimes(now: Int64) {
        let cutoff = now - 5 * Self.rateWindowMs
        if let first = terminalTimes.first, first.ms < cutoff {
            terminalTimes.removeAll { $0.ms < cutoff }
        }
    }

    // MARK: - reading (the pages)

    var progress: Progress {
        lock.withLock {
            let backlog = initialEnds.isEmpty && caughtUp ? readCount : readCount + initialEnds.reduce(0) { $0 + max(0, $1.value - (next[$1.key] ?? 0)) }
            return Progress(read: readCount, initialBacklog: backlog, caughtUp: caughtUp, orders: entries.count,
                            deadLetters: letters.count, rejected: rejectedCount)
        }
    }

    func order(_ orderId: String) -> OrderEntry? {
        lock.withLock { positionOf[orderId].map { entries[$0] } }
    }

    /// The next offset the index will read of each partition: everything before it is indexed.
    func position(_ partition: TopicPartition) -> Int64? {
        lock.withLock { next[partition] }
    }

    /// How many partitions a topic has, as the index found it (nil before it started).
    func partitionCount(_ topic: String) -> Int32? {
        lock.withLock {
            let count = next.keys.filter { $0.topic == topic }.count
            return count == 0 ? nil : Int32(count)
        }
    }

    struct OrderQuery: Sendable, Equatable {
        var orderId: String?
        var customerId: String?
        var state: OrderEntry.State?
    }

    /// Newest first: `limit` orders matching `query` after skipping `offset` of them, and
    /// whether more follow.
    func orders(_ query: OrderQuery, offset: Int, limit: Int) -> (items: [OrderEntry], more: Bool) {
        lock.withLock {
            if let orderId = query.orderId {
                let found = positionOf[orderId].map { [entries[$0]] } ?? []
                return (found.filter { query.state == nil || $0.state == query.state }, false)
            }
            let candidates: AnySequence<Int> = query.customerId.map { AnySequence((ordersOfCustomer[$0] ?? []).reversed()) }
                ?? AnySequence(entries.indices.reversed())
            var items: [OrderEntry] = []
            var skipped = 0
            for position in candidates {
                let entry = entries[position]
                if let state = query.state, entry.state != state { continue }
                if entry.placedAtMs == nil && entry.customerId.isEmpty { continue }  // only dead letters or stray records so far
                if skipped < offset { skipped += 1; continue }
                if items.count == limit { return (items, true) }
                items.append(entry)
            }
            return (items, false)
        }
    }

    /// Newest first, like `orders`.
    func deadLetters(_ filter: DeadLetterFilter, offset: Int, limit: Int) -> (items: [DeadLetterRecord], more: Bool, matching: Int) {
        lock.withLock {
            var items: [DeadLetterRecord] = []
            var matching = 0
            for letter in letters.reversed() where filter.matches(letter) {
                matching += 1
                if matching > offset && items.count < limit { items.append(letter) }
            }
            return (items, matching > offset + items.count, matching)
        }
    }

    func deadLetter(_ id: UUID) -> DeadLetterRecord? {
        lock.withLock { letterPosition[id].map { letters[$0] } }
    }

    func rejected(limit: Int) -> (items: [Rejected], total: Int) {
        lock.withLock { (Array(rejectedRecords.suffix(limit).reversed()), rejectedCount) }
    }

    /// Confirmed and cancelled orders per second over the last minute, by their records' time.
    func rates(nowMs: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> (confirmed: Double, cancelled: Double) {
        lock.withLock {
            let recent = terminalTimes.filter { $0.ms > nowMs - Self.rateWindowMs && $0.ms <= nowMs }
            let confirmed = recent.filter(\.confirmed).count
            let seconds = Double(Self.rateWindowMs) / 1000
            return (Double(confirmed) / seconds, Double(recent.count - confirmed) / seconds)
        }
    }
}
