import EventSchema
import Kafka
@testable import Messaging
import Testing

/// The relay's decisions without a database or a broker: time, scans and delivery reports are
/// whatever the test says.
@Suite struct RelayStateMachineTests {
    typealias Machine = RelayStateMachine
    static let t0 = ContinuousClock.now

    static func configuration(batchSize: Int = 10) -> RelayConfiguration {
        RelayConfiguration(kafka: KafkaConfiguration(bootstrapServers: "unused:9092"), batchSize: batchSize, maxRowsInFlight: 100,
                           fallbackInterval: .seconds(1),
                           retry: RetryPolicy(initialDelay: .milliseconds(100), maximumDelay: .milliseconds(400), jitter: 0),
                           leaseTTL: .seconds(9), unreachableBound: .seconds(30), statisticsInterval: .seconds(1))
    }

    static func row(_ id: Int64, key: String, topic: String = "orders") -> RelayRow {
        RelayRow(id: id, createdAtMicros: 0, message: OutgoingMessage(topic: topic, key: Array(key.utf8), value: nil))
    }

    /// A leader at `t0` whose statistics are fresh: the next action is about scanning.
    static func leader(batchSize: Int = 10) -> Machine {
        var machine = Machine(configuration: configuration(batchSize: batchSize), now: t0)
        #expect(machine.nextAction(now: t0, commits: 0, undeleted: 0) == .acquireLease)
        #expect(machine.leaseAcquired(1, requestedAt: t0, now: t0) == .acquired(epoch: 1))
        #expect(machine.nextAction(now: t0, commits: 0, undeleted: 0) == .refreshStatistics)
        return machine
    }

    /// The next action that is not lease or statistics upkeep (the lease is renewed with epoch 1).
    static func next(_ machine: inout Machine, now: ContinuousClock.Instant, commits: UInt64, undeleted: Int = 0) -> Machine.Action {
        while true {
            switch machine.nextAction(now: now, commits: commits, undeleted: undeleted) {
            case .acquireLease: _ = machine.leaseAcquired(1, requestedAt: now, now: now)
            case .refreshStatistics: continue
            case let action: return action
            }
        }
    }

    /// Scans `outbox` (in id order, a page at a time, as the relay reads it) and hands over what it selects.
    @discardableResult
    static func scanAndSend(_ machine: inout Machine, _ outbox: [RelayRow], hidden: Set<Int64> = [], now: ContinuousClock.Instant) -> [Int64] {
        var selection = machine.beginScan(now: now, hidden: hidden)
        let page = machine.configuration.batchSize
        var start = 0
        var more = true
        while more {
            let rows = outbox.dropFirst(start).prefix(page)
            start += rows.count
            for row in rows where selection.considers(row.id) {
                if !selection.offer(row) { break }
            }
            more = selection.pageRead(rows.count, of: page)
        }
        guard case .send(let rows)? = machine.scanned(selection, now: now) else { return [] }
        machine.handedOver(rows, now: now, toNewProducer: false)
        return rows.map(\.id)
    }

    @Test func theLeaseComesFirstThenAScanOnlyWhenSomethingCommitted() {
        var machine = Self.leader()
        #expect(machine.nextAction(now: Self.t0, commits: 0, undeleted: 0) == .scan, "a new lease scans once")
        #expect(Self.scanAndSend(&machine, [], now: Self.t0).isEmpty)
        #expect(machine.nextAction(now: Self.t0, commits: 0, undeleted: 0) == .wait(until: Self.t0 + .seconds(1)))
        #expect(machine.nextAction(now: Self.t0, commits: 1, undeleted: 0) == .scan)
    }

    @Test func oneRowPerKeyIsInFlightAndThePassedOverKeyIsScannedOnItsAcknowledgement() throws {
        var machine = Self.leader()
        let outbox = [Self.row(1, key: "a"), Self.row(2, key: "a"), Self.row(3, key: "b")]
        #expect(machine.nextAction(now: Self.t0, commits: 1, undeleted: 0) == .scan)
        #expect(Self.scanAndSend(&machine, outbox, now: Self.t0) == [1, 3])
        #expect(machine.nextAction(now: Self.t0, commits: 2, undeleted: 0) == .scan)
        #expect(Self.scanAndSend(&machine, outbox, now: Self.t0).isEmpty, "row 2 waits for row 1")

        let bSettlement = machine.settle([(Self.row(3, key: "b"), .acknowledged)], now: Self.t0)
        let b = try #require(bSettlement)
        #expect(b.deletion == Machine.Deletion(ids: [3], epoch: 1))
        #expect(machine.nextAction(now: Self.t0, commits: 2, undeleted: 1) == .wait(until: Self.t0 + .seconds(1)),
                "nobody waits for key b: no scan")

        _ = machine.settle([(Self.row(1, key: "a"), .acknowledged)], now: Self.t0)
        #expect(machine.nextAction(now: Self.t0, commits: 2, undeleted: 2) == .scan, "row 2 waited for this acknowledgement")
        #expect(Self.scanAndSend(&machine, outbox, hidden: [1, 3], now: Self.t0) == [2])
    }

    @Test func aDeliveryReportAfterTheLeaseWasTakenOverDeletesNothing() throws {
        var machine = Self.leader()
        _ = machine.nextAction(now: Self.t0, commits: 1, undeleted: 0)
        #expect(Self.scanAndSend(&machine, [Self.row(1, key: "a")], now: Self.t0) == [1])
        let renewal = Self.t0 + .seconds(3)
        #expect(machine.nextAction(now: renewal, commits: 1, undeleted: 0) == .acquireLease)
        #expect(machine.leaseAcquired(nil, requestedAt: renewal, now: renewal) == .takenOver)
        let lateSettlement = machine.settle([(Self.row(1, key: "a"), .acknowledged)], now: renewal)
        let late = try #require(lateSettlement)
        #expect(late.acknowledged.isEmpty)
        #expect(late.deletion == nil)
        #expect(machine.inFlight.isEmpty)
    }

    @Test func aFailedKeyBacksOffLongerEachTimeUpToTheMaximumAndAnAcknowledgementResetsIt() throws {
        var machine = Self.leader()
        let outbox = [Self.row(1, key: "a")]
        var now = Self.t0
        var commits: UInt64 = 1
        _ = machine.nextAction(now: now, commits: commits, undeleted: 0)
        #expect(Self.scanAndSend(&machine, outbox, now: now) == [1])
        var delays: [Duration] = []
        for _ in 0..<4 {
            _ = machine.settle([(outbox[0], .failed(retriable: true, fatal: false))], now: now)
            let retryAt = try #require(machine.blocked[outbox[0].key]).retryAt
            delays.append(retryAt - now)
            commits += 1
            #expect(Self.next(&machine, now: now, commits: commits) == .scan)
            #expect(Self.scanAndSend(&machine, outbox, now: now).isEmpty, "not before its backoff is over")
            #expect(Self.next(&machine, now: now, commits: commits) == .wait(until: retryAt), "woken for its retry")
            now = retryAt
            #expect(Self.next(&machine, now: now, commits: commits) == .scan)
            #expect(Self.scanAndSend(&machine, outbox, now: now) == [1])
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(400)])
        _ = machine.settle([(outbox[0], .acknowledged)], now: now)
        #expect(machine.blocked.isEmpty)
        #expect(Self.scanAndSend(&machine, outbox, now: now) == [1])
        _ = machine.settle([(outbox[0], .failed(retriable: true, fatal: false))], now: now)
        #expect(try #require(machine.blocked[outbox[0].key]).retryAt == now + .milliseconds(100), "back to the first delay")
    }

    @Test func aFatalFailureReplacesTheProducerAndForgetsEveryRowInFlight() throws {
        var machine = Self.leader()
        _ = machine.nextAction(now: Self.t0, commits: 1, undeleted: 0)
        #expect(Self.scanAndSend(&machine, [Self.row(1, key: "a"), Self.row(2, key: "b")], now: Self.t0) == [1, 2])
        let fatalSettlement = machine.settle([(Self.row(1, key: "a"), .failed(retriable: false, fatal: true))], now: Self.t0)
        let fatal = try #require(fatalSettlement)
        #expect(fatal.replaceProducer)
        #expect(machine.inFlight.isEmpty)
        let purgedSettlement = machine.settle([(Self.row(2, key: "b"), .acknowledged)], now: Self.t0)
        let purged = try #require(purgedSettlement)
        #expect(purged.deletion == nil, "what the old producer still reports counts for nothing")
        #expect(machine.nextAction(now: Self.t0, commits: 1, undeleted: 0) == .scan, "republished from the outbox")
    }

    @Test func aHolderThatHearsNothingWhileRowsWaitGivesTheLeaseUpForALeasePeriod() {
        var machine = Self.leader()
        _ = machine.nextAction(now: Self.t0, commits: 1, undeleted: 0)
        #expect(Self.scanAndSend(&machine, [Self.row(1, key: "a")], now: Self.t0) == [1])
        var surrendered: ContinuousClock.Instant?
        var now = Self.t0
        while surrendered == nil, now < Self.t0 + .seconds(60) {
            now += .milliseconds(500)
            if case .surrender(let silent) = Self.next(&machine, now: now, commits: 1) {
                #expect(silent == now - Self.t0)
                surrendered = now
            }
        }
        #expect(surrendered == Self.t0 + .seconds(30))
        #expect(!machine.isLeader)
        #expect(machine.inFlight.isEmpty)
        #expect(machine.nextAction(now: now + .seconds(8), commits: 1, undeleted: 0) == .wait(until: now + .seconds(9)))
        #expect(machine.nextAction(now: now + .seconds(9), commits: 1, undeleted: 0) == .acquireLease)
    }

    @Test func anAcknowledgementIsContactAndNothingWaitingIsNeverUnreachable() {
        var machine = Self.leader()
        _ = machine.nextAction(now: Self.t0, commits: 1, undeleted: 0)
        Self.scanAndSend(&machine, [Self.row(1, key: "a")], now: Self.t0)
        let later = Self.t0 + .seconds(2)
        _ = machine.settle([(Self.row(1, key: "a"), .acknowledged)], now: later)
        for seconds in stride(from: 3, through: 60, by: 3) {
            let now = Self.t0 + .seconds(seconds)
            #expect(Self.next(&machine, now: now, commits: 1) != .surrender(silentFor: now - Self.t0))
            #expect(machine.unreachableFor == .zero)
            #expect(machine.isLeader)
        }
    }

    @Test func aScanThatOutlastsTheLeaseHandsNothingOverAndALeaseWithoutRenewalRunsOut() {
        var machine = Self.leader()
        _ = machine.nextAction(now: Self.t0, commits: 1, undeleted: 0)
        #expect(Self.scanAndSend(&machine, [Self.row(1, key: "a")], now: Self.t0 + .seconds(9)).isEmpty)
        #expect(machine.nextAction(now: Self.t0 + .seconds(9), commits: 1, undeleted: 0) == .acquireLease)
        #expect(machine.leaseFailed(now: Self.t0 + .seconds(5)) == .none, "still valid")
        #expect(machine.isLeader)
        #expect(machine.leaseFailed(now: Self.t0 + .seconds(9)) == .ranOut)
        #expect(!machine.isLeader)
    }

    @Test func farAheadOfTheDeleterOrWithEveryRowInFlightItWaits() {
        var machine = Self.leader()
        #expect(machine.nextAction(now: Self.t0, commits: 1, undeleted: 41) == .wait(until: Self.t0 + .seconds(1)))
        #expect(machine.nextAction(now: Self.t0, commits: 1, undeleted: 40) == .scan)
    }

    @Test func onShutdownItWaitsForTheRowsInFlightAndStillDeletesWhatWasAcknowledged() throws {
        var machine = Self.leader()
        _ = machine.nextAction(now: Self.t0, commits: 1, undeleted: 0)
        Self.scanAndSend(&machine, [Self.row(1, key: "a")], now: Self.t0)
        machine.shutdownRequested()
        #expect(machine.nextAction(now: Self.t0, commits: 2, undeleted: 0) == .wait(until: Self.t0 + .milliseconds(100)))
        let lastSettlement = machine.settle([(Self.row(1, key: "a"), .acknowledged)], now: Self.t0)
        let last = try #require(lastSettlement)
        #expect(last.deletion == Machine.Deletion(ids: [1], epoch: 1))
        #expect(machine.nextAction(now: Self.t0, commits: 2, undeleted: 1) == .stop)
    }

    @Test func aDeadLetterIsAKeyOfItsOwn() {
        var machine = Self.leader()
        _ = machine.nextAction(now: Self.t0, commits: 1, undeleted: 0)
        let dead = TopicCatalog.deadLetters.name
        let outbox = [Self.row(1, key: "a", topic: dead), Self.row(2, key: "a", topic: dead)]
        #expect(Self.scanAndSend(&machine, outbox, now: Self.t0) == [1, 2])
    }
}
