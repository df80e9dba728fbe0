import Kafka
@testable import Messaging
import PropertyBased
import Testing

/// The partition book under generated interleavings of batches, rebalances, holds, releases,
/// offset stores and Kafka commits: nothing is committed or stored for a partition that is
/// held or not ours, a partition's progress only moves forward while it stays assigned, and
/// nothing unstored outlives its partition.
@Suite struct PartitionBookPropertyTests {
    enum Step: Sendable, CaseIterable {
        case batch, idleBatch, assign, revoke, hold, release, store, commit, advance
    }

    static let partitions = (0..<3).map { TopicPartition(topic: "orders.v1", partition: $0) }
    static let scripts = Gen.int(in: 0...Step.allCases.count - 1).map { Step.allCases[$0] }.array(of: 10...200)

    @Test func commitsAndStoresOnlyForFlowingPartitionsOfOurs() async {
        await propertyCheck(count: 300, input: Self.scripts, Gen.uint64()) { script, seed in
            var rng = Xoshiro(seed: (seed, 4, 5, 6))
            var now = PartitionBookTests.t0
            var book = PartitionBook(now: now)
            var violations: [String] = []
            for step in script {
                let partition = Self.partitions.randomElement(using: &rng)!
                let before = book
                switch step {
                case .batch, .idleBatch:
                    let offset = (book.lastProcessed[partition] ?? 0) + Int64.random(in: -2...5, using: &rng)
                    book.processed([partition: offset], stored: step == .batch, now: now)
                case .assign where book.partitions[partition] == nil:
                    book.assign([partition: .init(lastProcessed: Int64.random(in: -1...20, using: &rng))])
                case .assign: break
                case .revoke: book.revoke([partition])
                case .hold: _ = book.holdForLostPosition(partition, message: "gone")
                case .release:
                    book.release(book.recheckHeld(stored: [partition: 30], marks: [partition: Watermarks(low: 0, high: 40)]))
                case .store:
                    let due = book.offsetStoreDue(now: now, interval: .seconds(2), force: Bool.random(using: &rng))
                    for partition in due.keys where before.held.contains(partition) {
                        violations.append("\(step): stored held \(partition)")
                    }
                    book.stored(due)
                case .commit:
                    let due = book.kafkaCommitDue(now: now, interval: .seconds(2), force: Bool.random(using: &rng))
                    for partition in due.keys where before.partitions[partition] == nil || before.held.contains(partition) {
                        violations.append("\(step): committed \(partition), held or not ours")
                    }
                case .advance: now += .milliseconds(Int.random(in: 1...3000, using: &rng))
                }
                for (partition, value) in book.partitions {
                    if let old = before.partitions[partition], step != .release, value.lastProcessed < old.lastProcessed {
                        violations.append("\(step): \(partition) went back from \(old.lastProcessed) to \(value.lastProcessed)")
                    }
                }
                for partition in book.unstored.keys where book.partitions[partition] == nil {
                    violations.append("\(step): \(partition) has unstored offsets but is not ours")
                }
            }
            #expect(violations.isEmpty, "\(violations.prefix(5)) after \(script)")
        }
    }
}
