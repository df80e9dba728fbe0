import Kafka
@testable import Messaging
import Testing

/// The consumer runtime's partition bookkeeping without a broker or a database.
@Suite struct PartitionBookTests {
    static let t0 = ContinuousClock.now
    static let p0 = TopicPartition(topic: "orders.v1", partition: 0)
    static let p1 = TopicPartition(topic: "orders.v1", partition: 1)

    static func message(_ partition: TopicPartition, _ offset: Int64) -> ConsumedMessage {
        ConsumedMessage(topic: partition.topic, partition: partition.partition, offset: offset, key: nil, value: nil,
                        headers: [], timestampMs: nil)
    }

    /// p0 processed up to 9, p1 fresh.
    static func book() -> PartitionBook {
        var book = PartitionBook(now: t0)
        book.assign([p0: .init(lastProcessed: 9), p1: .init(lastProcessed: -1)])
        return book
    }

    @Test func aFreshPartitionStartsAtTheBeginningAndAProcessedOneAfterItsStoredOffset() {
        let marks = Watermarks(low: 0, high: 100)
        let fresh = PartitionBook.assignment(stored: nil, marks: nil, policy: .hold)
        #expect(fresh.start == KafkaConsumer.beginning)
        #expect(fresh.partition == .init(lastProcessed: -1))
        let known = PartitionBook.assignment(stored: 41, marks: marks, policy: .hold)
        #expect(known.start == 42)
        #expect(known.anomaly == nil)
        let atTheEnd = PartitionBook.assignment(stored: 99, marks: marks, policy: .hold)
        #expect(atTheEnd.start == 100, "caught up is no anomaly")
    }

    @Test func aStoredOffsetTheLogCannotContinueFromIsHeldOrAccepted() {
        let recreated = Watermarks(low: 0, high: 10)
        let held = PartitionBook.assignment(stored: 41, marks: recreated, policy: .hold)
        #expect(held.anomaly == .beyondLogEnd(lastProcessed: 41, logEnd: 10))
        #expect(held.start == KafkaConsumer.paused)
        #expect(held.partition.held != nil && held.partition.paused && held.partition.heldMarks == recreated)
        #expect(!held.resetsStoredOffset)

        let truncated = Watermarks(low: 50, high: 80)
        let accepted = PartitionBook.assignment(stored: 41, marks: truncated, policy: .accept)
        #expect(accepted.anomaly == .beforeLogStart(lastProcessed: 41, logStart: 50))
        #expect(accepted.start == 50)
        #expect(accepted.partition == .init(lastProcessed: 49))
        #expect(accepted.resetsStoredOffset)
    }

    @Test func aHeldPartitionsRecordsAreNotHandedOutNorItsOffsetsAdvancedOrCommitted() {
        var book = Self.book()
        let held = book.holdForLostPosition(Self.p0, message: "out of range")
        #expect(held)
        let heldAgain = book.holdForLostPosition(Self.p0, message: "again")
        #expect(!heldAgain, "held once")
        let batch = [Self.message(Self.p0, 10), Self.message(Self.p1, 0), Self.message(Self.p0, 11)]
        #expect(book.flowing(batch).map(\.topicPartition) == [Self.p1])
        book.processed([Self.p0: 11, Self.p1: 0], stored: true, now: Self.t0)
        #expect(book.lastProcessed == [Self.p0: 9, Self.p1: 0])
        let committed = book.kafkaCommitDue(now: Self.t0, interval: .seconds(5), force: true)
        #expect(committed == [Self.p1: 0])
        #expect(book.heldButNotPaused == [Self.p0])
        book.paused([Self.p0])
        #expect(book.heldButNotPaused.isEmpty)
    }

    @Test func aHeldPartitionIsReleasedOnceItsStoredOffsetFitsTheLogAndFlowsAgain() {
        var book = Self.book()
        _ = book.holdForLostPosition(Self.p0, message: "out of range")
        let dueAt4s = book.heldCheckDue(now: Self.t0 + .seconds(4))
        #expect(!dueAt4s)
        let dueAt5s = book.heldCheckDue(now: Self.t0 + .seconds(5))
        #expect(dueAt5s)
        let dueAt6s = book.heldCheckDue(now: Self.t0 + .seconds(6))
        #expect(!dueAt6s, "every few seconds, not every loop")
        let stillGone = book.recheckHeld(stored: [Self.p0: 9], marks: [Self.p0: Watermarks(low: 20, high: 30)])
        #expect(stillGone.isEmpty)
        #expect(book.partitions[Self.p0]?.heldMarks == Watermarks(low: 20, high: 30), "for the report")
        let reset = book.recheckHeld(stored: [Self.p0: 19], marks: [Self.p0: Watermarks(low: 20, high: 30)])
        #expect(reset == [Self.p0: 19])
        book.release(reset)
        #expect(book.held.isEmpty)
        #expect(book.flowing([Self.message(Self.p0, 20)]).count == 1)
        #expect(book.lastProcessed[Self.p0] == 19)
    }

    @Test func offsetsAdvancedInMemoryAreStoredOnTheirIntervalAndATransactionSupersedesThem() {
        var book = Self.book()
        book.processed([Self.p0: 12], stored: false, now: Self.t0)
        #expect(book.unstored == [Self.p0: 12])
        let storedEarly = book.offsetStoreDue(now: Self.t0 + .seconds(1), interval: .seconds(5), force: false)
        #expect(storedEarly.isEmpty)
        let storedOnTime = book.offsetStoreDue(now: Self.t0 + .seconds(5), interval: .seconds(5), force: false)
        #expect(storedOnTime == [Self.p0: 12])
        #expect(book.unstored.isEmpty)

        book.processed([Self.p0: 14], stored: false, now: Self.t0)
        book.processed([Self.p0: 15], stored: true, now: Self.t0)
        #expect(book.unstored.isEmpty, "the transaction stored a later offset")
        book.processed([Self.p1: 3], stored: false, now: Self.t0)
        let storedOnlyP0 = book.offsetStoreDue(now: Self.t0, interval: .seconds(5), force: true, only: [Self.p0])
        #expect(storedOnlyP0.isEmpty)
        #expect(book.unstored == [Self.p1: 3], "only the partitions asked for")
    }

    @Test func aRevokedPartitionLeavesNothingToStoreOrCommit() {
        var book = Self.book()
        book.processed([Self.p0: 12, Self.p1: 4], stored: false, now: Self.t0)
        book.revoke([Self.p0])
        #expect(book.unstored == [Self.p1: 4])
        #expect(book.partitions[Self.p0] == nil)
        let stored = book.offsetStoreDue(now: Self.t0, interval: .seconds(5), force: true)
        #expect(stored == [Self.p1: 4])
        let committed = book.kafkaCommitDue(now: Self.t0, interval: .seconds(5), force: true)
        #expect(committed == [Self.p1: 4])
        let committedAgain = book.kafkaCommitDue(now: Self.t0, interval: .seconds(5), force: true)
        #expect(committedAgain.isEmpty, "committed once")
    }

    @Test func kafkaCommitsWaitForTheirIntervalUnlessForced() {
        var book = Self.book()
        book.processed([Self.p0: 10], stored: true, now: Self.t0)
        let committedEarly = book.kafkaCommitDue(now: Self.t0 + .seconds(1), interval: .seconds(5), force: false)
        #expect(committedEarly.isEmpty)
        book.processed([Self.p0: 11], stored: true, now: Self.t0)
        let committedOnTime = book.kafkaCommitDue(now: Self.t0 + .seconds(5), interval: .seconds(5), force: false)
        #expect(committedOnTime == [Self.p0: 11])
        book.stored([Self.p1: 2])
        let committedBeforeDue = book.kafkaCommitDue(now: Self.t0 + .seconds(6), interval: .seconds(5), force: false)
        #expect(committedBeforeDue.isEmpty)
        let committedForced = book.kafkaCommitDue(now: Self.t0 + .seconds(6), interval: .seconds(5), force: true)
        #expect(committedForced == [Self.p1: 2])
    }

    @Test func recordsAPartitionSkippedOverAreGaps() {
        let book = Self.book()
        let batch = [Self.message(Self.p0, 10), Self.message(Self.p0, 13), Self.message(Self.p1, 5), Self.message(Self.p1, 6),
                     Self.message(Self.p0, 14)]
        #expect(book.gaps(in: batch) == [PartitionBook.Gap(partition: Self.p0, expected: 11, offset: 13)],
                "a fresh partition may start anywhere")
        #expect(book.gaps(in: batch).map(\.skipped) == [2])
        #expect(book.gaps(in: [Self.message(Self.p0, 8), Self.message(Self.p0, 10)]).isEmpty, "redeliveries are no gap")
    }

    @Test func aPartitionThatLagsWithoutProgressStallsAndProgressClearsIt() {
        var book = Self.book()
        let marks = { (_: TopicPartition) -> Watermarks? in Watermarks(low: 0, high: 20) }
        book.noteLag([Self.p0: Watermarks(low: 0, high: 20), Self.p1: nil], now: Self.t0)
        book.noteLag([Self.p0: Watermarks(low: 0, high: 20)], now: Self.t0 + .seconds(30))
        let rows = book.report(now: Self.t0 + .seconds(60), stallBound: .seconds(60), marks: marks)
        #expect(rows.map(\.partition) == [0, 1])
        #expect(rows[0].lag == 10)
        #expect(rows[0].stalled, "waiting since the first look, not the last")
        #expect(!rows[1].stalled, "no marks: nothing known about its lag")
        book.processed([Self.p0: 12], stored: true, now: Self.t0 + .seconds(61))
        #expect(!book.report(now: Self.t0 + .seconds(200), stallBound: .seconds(60), marks: marks)[0].stalled)
        #expect(PartitionBook.lag(lastProcessed: 9, marks: Watermarks(low: 15, high: 20)) == 5, "from the log start")
    }
}
