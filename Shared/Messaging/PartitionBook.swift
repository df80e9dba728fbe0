import Kafka

/// The consumer runtime's view of the partitions it holds, without I/O: where each one starts
/// on assignment, which are held for an offset anomaly (and their records withheld), the
/// offsets processed but not stored or not committed to Kafka yet, and which partitions lag
/// without progress. `ConsumerRuntime` keeps it behind its lock, passes the time in and does
/// the reads and writes it calls for.
struct PartitionBook {
    typealias Instant = ContinuousClock.Instant

    struct Partition: Equatable {
        /// Last processed offset (from the database at assignment, then ours); -1 for none.
        var lastProcessed: Int64
        /// Why the partition is held (nothing is read from it), nil when it flows.
        var held: String?
        /// Whether librdkafka was told to pause it (a hold found inside `poll` waits for the loop).
        var paused = false
        /// A held partition's log as last looked at (no fetch statistics come for a paused one):
        /// its end is what an operator's reset usually wants.
        var heldMarks: Watermarks?
        /// Since when the partition has had lag without progress (nil: no lag, or progress since).
        var waitingSince: Instant?
    }

    /// Where a newly assigned partition starts, and what its stored offset says about the log.
    struct Assignment: Equatable {
        var partition: Partition
        /// The offset to fetch from: `KafkaConsumer.paused` for a held partition.
        var start: Int64
        var anomaly: OffsetAnomaly?
        /// Under `.accept`, the stored offset is reset to `partition.lastProcessed` first.
        var resetsStoredOffset: Bool
    }

    private(set) var partitions: [TopicPartition: Partition] = [:]
    /// Processed offsets not yet committed to Kafka.
    private(set) var uncommitted: [TopicPartition: Int64] = [:]
    /// Offsets advanced in memory only (batches that needed no transaction), not yet stored.
    private(set) var unstored: [TopicPartition: Int64] = [:]
    private var lastKafkaCommit: Instant
    private var lastOffsetStore: Instant
    private var lastHeldCheck: Instant

    init(now: Instant) {
        (lastKafkaCommit, lastOffsetStore, lastHeldCheck) = (now, now, now)
    }

    var lastProcessed: [TopicPartition: Int64] { partitions.mapValues(\.lastProcessed) }
    var held: Set<TopicPartition> { Set(partitions.filter { $0.value.held != nil }.keys) }

    // MARK: - batches

    /// The records to hand to the handlers: a held partition's wait, and are read again from
    /// its stored offset once it is released.
    func flowing(_ batch: [ConsumedMessage]) -> [ConsumedMessage] {
        let held = held
        return held.isEmpty ? batch : batch.filter { !held.contains($0.topicPartition) }
    }

    /// Records a partition skipped over: with no compaction and no transactions on these
    /// topics, a partition's offsets are consecutive, so a polled offset beyond the one after the
    /// last processed means records this consumer never saw ("poll skip").
    struct Gap: Equatable {
        var partition: TopicPartition
        var expected: Int64
        var offset: Int64
        var skipped: Int { Int(offset - expected) }
    }

    func gaps(in batch: [ConsumedMessage]) -> [Gap] {
        var next: [TopicPartition: Int64] = [:]
        var gaps: [Gap] = []
        for message in batch {
            let partition = message.topicPartition
            let known = partitions[partition].flatMap { $0.lastProcessed >= 0 ? $0.lastProcessed + 1 : nil }
            guard let expected = next[partition] ?? known else {
                next[partition] = message.offset + 1
                continue
            }
            if message.offset > expected { gaps.append(Gap(partition: partition, expected: expected, offset: message.offset)) }
            next[partition] = max(expected, message.offset + 1)
        }
        return gaps
    }

    /// A batch got through up to these offsets, stored in its transaction or (none needed) in memory only.
    mutating func processed(_ offsets: [TopicPartition: Int64], stored: Bool, now: Instant) {
        for (partition, offset) in offsets {
            guard var value = partitions[partition], value.held == nil else { continue }
            if offset > value.lastProcessed {
                value.lastProcessed = offset
                value.waitingSince = nil
            }
            partitions[partition] = value
            if stored {
                if let unstored = unstored[partition], unstored <= offset { self.unstored[partition] = nil }
            } else {
                unstored[partition] = max(unstored[partition] ?? -1, offset)
            }
        }
        if stored { lastOffsetStore = now }
        uncommitted.merge(offsets) { max($0, $1) }
    }

    /// The offsets to commit to Kafka now (advisory, for lag tools): at most every `interval`
    /// unless forced, and only of partitions still ours and flowing.
    mutating func kafkaCommitDue(now: Instant, interval: Duration, force: Bool) -> [TopicPartition: Int64] {
        guard !uncommitted.isEmpty, force || now - lastKafkaCommit >= interval else { return [:] }
        let offsets = uncommitted.filter { partitions[$0.key].map { $0.held == nil } ?? false }
        uncommitted.removeAll(keepingCapacity: true)
        lastKafkaCommit = now
        return offsets
    }

    /// The offsets advanced in memory to store now: at most every `interval` unless forced
    /// (shutdown, revocation), optionally only of some partitions. Taken out of the book: a
    /// failed store is not retried (those records are read and skipped again).
    mutating func offsetStoreDue(now: Instant, interval: Duration, force: Bool,
                                 only: Set<TopicPartition>? = nil) -> [TopicPartition: Int64] {
        guard !unstored.isEmpty, force || now - lastOffsetStore >= interval else { return [:] }
        var due: [TopicPartition: Int64] = [:]
        for (partition, offset) in unstored where only?.contains(partition) ?? true {
            if partitions[partition]?.held == nil { due[partition] = offset }
            unstored[partition] = nil
        }
        lastOffsetStore = now
        return due
    }

    /// Offsets stored outside a batch: they go to Kafka with the next commit.
    mutating func stored(_ offsets: [TopicPartition: Int64]) {
        uncommitted.merge(offsets) { max($0, $1) }
    }

    // MARK: - assignment and holds

    /// Where a partition starts: the stored offset + 1; from the beginning if this database
    /// never processed it. A stored offset the log cannot continue from is an anomaly, handled
    /// by `policy`.
    static func assignment(stored: Int64?, marks: Watermarks?, policy: OffsetAnomalyPolicy) -> Assignment {
        let last = stored ?? -1
        guard last >= 0, let marks, let anomaly = OffsetAnomaly(lastProcessed: last, marks: marks) else {
            return Assignment(partition: Partition(lastProcessed: last), start: last >= 0 ? last + 1 : KafkaConsumer.beginning,
                              anomaly: nil, resetsStoredOffset: false)
        }
        switch policy {
        case .hold:
            return Assignment(partition: Partition(lastProcessed: last, held: anomaly.description, paused: true, heldMarks: marks),
                              start: KafkaConsumer.paused, anomaly: anomaly, resetsStoredOffset: false)
        case .accept:
            // Read the log from its start, as if everything before it was processed.
            return Assignment(partition: Partition(lastProcessed: marks.low - 1), start: marks.low,
                              anomaly: anomaly, resetsStoredOffset: true)
        }
    }

    mutating func assign(_ partitions: [TopicPartition: Partition]) {
        self.partitions.merge(partitions) { $1 }
    }

    /// What this member skipped in memory goes with them (stored before, unless the group
    /// already gave them away).
    mutating func revoke(_ partitions: [TopicPartition]) {
        for partition in partitions {
            self.partitions[partition] = nil
            unstored[partition] = nil
        }
    }

    /// Holds a flowing partition whose fetch position left the log; false if it was not ours or already held.
    mutating func holdForLostPosition(_ partition: TopicPartition, message: String) -> Bool {
        guard var value = partitions[partition], value.held == nil else { return false }
        value.held = "the log does not hold the offset after the stored one (\(value.lastProcessed)): \(message)"
        partitions[partition] = value
        return true
    }

    var heldButNotPaused: [TopicPartition] { partitions.filter { $0.value.held != nil && !$0.value.paused }.map(\.key) }

    mutating func paused(_ partitions: [TopicPartition]) {
        for partition in partitions { self.partitions[partition]?.paused = true }
    }

    /// Whether to look at the held partitions again (every few seconds while any is held).
    mutating func heldCheckDue(now: Instant) -> Bool {
        guard partitions.values.contains(where: { $0.held != nil }), now - lastHeldCheck >= .seconds(5) else { return false }
        lastHeldCheck = now
        return true
    }

    /// Notes the held partitions' logs; returns those whose stored offset now fits (an
    /// operator reset it, or the log grew back to it), with that offset.
    mutating func recheckHeld(stored: [TopicPartition: Int64], marks: [TopicPartition: Watermarks]) -> [TopicPartition: Int64] {
        var release: [TopicPartition: Int64] = [:]
        for (partition, marks) in marks where partitions[partition]?.held != nil {
            partitions[partition]?.heldMarks = marks
            let last = stored[partition] ?? -1
            if last < 0 || OffsetAnomaly(lastProcessed: last, marks: marks) == nil { release[partition] = last }
        }
        return release
    }

    /// Released partitions flow again from their stored offsets.
    mutating func release(_ partitions: [TopicPartition: Int64]) {
        for (partition, last) in partitions { self.partitions[partition] = Partition(lastProcessed: last) }
    }

    // MARK: - lag

    /// Notes which partitions lag without progress, from their logs' current ends.
    mutating func noteLag(_ marks: [TopicPartition: Watermarks?], now: Instant) {
        for (partition, marks) in marks {
            guard var value = partitions[partition] else { continue }
            let lagging = marks.map { Self.lag(lastProcessed: value.lastProcessed, marks: $0) > 0 } ?? false
            if !lagging {
                value.waitingSince = nil
            } else if value.waitingSince == nil {
                value.waitingSince = now
            }
            partitions[partition] = value
        }
    }

    static func lag(lastProcessed: Int64, marks: Watermarks) -> Int64 {
        max(0, marks.high - max(lastProcessed + 1, marks.low))
    }

    /// One report row per partition, in topic and partition order; `marks` are the logs as of
    /// the last fetch (a held partition's as last looked at).
    func report(now: Instant, stallBound: Duration, marks: (TopicPartition) -> Watermarks?) -> [ConsumerReport.Partition] {
        partitions.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }.map { partition, value in
            let marks = marks(partition) ?? value.heldMarks
            return ConsumerReport.Partition(
                topic: partition.topic, partition: partition.partition, lastProcessedOffset: value.lastProcessed,
                logEnd: marks?.high, lag: marks.map { Self.lag(lastProcessed: value.lastProcessed, marks: $0) },
                held: value.held, stalled: value.waitingSince.map { now - $0 >= stallBound } ?? false)
        }
    }
}
