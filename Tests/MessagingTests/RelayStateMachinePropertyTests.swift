import Kafka
@testable import Messaging
import PropertyBased
import Testing

/// The relay's state machine under generated interleavings of commits, delivery reports
/// (acknowledged, failed, fatal), lease take-overs, deletes and time: per-key order holds at
/// every step, only acknowledged rows are deleted, a row handed over before the relay saw its
/// lease or producer go is never deleted on its report, and once the world calms down every row
/// is published and deleted.
@Suite struct RelayStateMachinePropertyTests {
    enum Step: Sendable, CaseIterable {
        case commit, deliver, fail, failFatally, advance, takeOver, giveBack, delete, run
    }

    static let scripts = Gen.int(in: 0...Step.allCases.count - 1).map { Step.allCases[$0] }.array(of: 20...300)

    /// The world around one relay: the outbox table, the lease row, the producer's queue.
    struct World {
        var machine = RelayStateMachine(configuration: RelayStateMachineTests.configuration(batchSize: 3), now: RelayStateMachineTests.t0)
        var now = RelayStateMachineTests.t0
        var outbox: [RelayRow] = []
        var nextId: Int64 = 1
        var commits: UInt64 = 0
        /// The lease as the database has it: a new holder raises the epoch.
        var epoch: Int64 = 0
        var heldByUs = false
        var heldByOther = false
        /// Times the relay dropped its rows in flight (lease lost, surrendered, producer replaced).
        var drops = 0
        /// Handed over and not reported yet, with `drops` then.
        var producer: [(row: RelayRow, drops: Int)] = []
        var acknowledged: [Int64: Int64] = [:]
        /// Per key, the ids acknowledged so far, in the order the broker acknowledged them.
        var published: [RelayRow.Key: [Int64]] = [:]
        var violations: [String] = []
        var rng: Xoshiro

        mutating func perform(_ step: Step) {
            switch step {
            case .commit:
                let key = ["a", "b", "c", "d"].randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    outbox.append(RelayStateMachineTests.row(nextId, key: key))
                    nextId += 1
                }
                commits += 1
            case .deliver: report(.acknowledged)
            case .fail: report(.failed(retriable: true, fatal: false))
            case .failFatally: report(.failed(retriable: false, fatal: true))
            case .advance: now += .milliseconds(Int.random(in: 1...3000, using: &rng))
            case .takeOver:
                if !heldByOther { epoch += 1 }
                heldByOther = true
                heldByUs = false
            case .giveBack: heldByOther = false
            case .delete: delete()
            case .run: for _ in 0..<5 { runOnce() }
            }
        }

        mutating func report(_ delivery: RelayStateMachine.Delivery) {
            guard !producer.isEmpty else { return }
            let (row, sentAt) = producer.remove(at: Int.random(in: 0..<producer.count, using: &rng))
            if delivery == .acknowledged { published[row.key, default: []].append(row.id) }
            guard let settlement = machine.settle([(row, delivery)], now: now) else { return }
            if settlement.replaceProducer { dropped() }
            guard let deletion = settlement.deletion else { return }
            if deletion.ids != [row.id] || sentAt != drops {
                violations.append("row \(row.id), handed over before \(drops - sentAt) drops, is deleted as \(deletion)")
            }
            for id in deletion.ids { acknowledged[id] = deletion.epoch }
        }

        /// The deleter: fenced by the epoch the rows were published under.
        mutating func delete() {
            for (id, epoch) in acknowledged where epoch == self.epoch {
                guard let row = outbox.first(where: { $0.id == id }) else { continue }
                if !(published[row.key] ?? []).contains(id) { violations.append("row \(id) deleted, never acknowledged") }
                outbox.removeAll { $0.id == id }
            }
            acknowledged.removeAll()
        }

        mutating func runOnce() {
            switch machine.nextAction(now: now, commits: commits, undeleted: acknowledged.count) {
            case .acquireLease:
                if !heldByOther && !heldByUs {
                    epoch += 1
                    heldByUs = true
                }
                switch machine.leaseAcquired(heldByUs ? epoch : nil, requestedAt: now, now: now) {
                case .takenOver, .ranOut: dropped()
                case .none, .acquired: break
                }
            case .surrender:
                heldByUs = false
                dropped()
            case .scan:
                let sent = RelayStateMachineTests.scanAndSend(&machine, outbox, hidden: Set(acknowledged.keys), now: now)
                for id in sent { handedOver(outbox.first { $0.id == id }!) }
            case .wait(let until): now = max(now, min(until, now + .seconds(2)))
            case .refreshStatistics, .send, .stop: break
            }
        }

        /// The producer is closed: what it held is purged, never reported.
        mutating func dropped() {
            producer.removeAll()
            drops += 1
        }

        /// A row goes out only once every earlier row of its key was acknowledged.
        mutating func handedOver(_ row: RelayRow) {
            for earlier in outbox where earlier.id < row.id && earlier.key == row.key {
                if acknowledged[earlier.id] == nil && !(published[row.key] ?? []).contains(earlier.id) {
                    violations.append("row \(row.id) sent before row \(earlier.id) of its key was acknowledged")
                }
            }
            if producer.contains(where: { $0.row.key == row.key }) {
                violations.append("row \(row.id) sent while a row of its key is in flight")
            }
            producer.append((row, drops))
        }
    }

    @Test func perKeyOrderHoldsAndOnlyLiveAcknowledgementsAreDeletedUnderAnyInterleaving() async {
        await propertyCheck(count: 300, input: Self.scripts, Gen.uint64()) { script, seed in
            var world = World(rng: Xoshiro(seed: (seed, 1, 2, 3)))
            for step in script { world.perform(step) }
            // Calm: the lease is free, every send is acknowledged, the deleter keeps up.
            world.heldByOther = false
            for _ in 0..<3000 where !world.outbox.isEmpty {
                world.runOnce()
                while !world.producer.isEmpty { world.report(.acknowledged) }
                world.delete()
                world.now += .milliseconds(500)
            }
            #expect(world.violations.isEmpty, "\(world.violations.prefix(5)) after \(script)")
            #expect(world.outbox.isEmpty, "\(world.outbox.count) rows never published after \(script)")
        }
    }
}
